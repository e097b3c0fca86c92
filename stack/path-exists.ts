import { stat } from 'node:fs/promises';

/** True when something exists at `file` (a file or a folder); the launcher's cache and unpack markers are files. */
export async function pathExists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
