import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { getJson } from './fixtures/simulator-fixture.ts';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sim-cli.ts');

describe('m365-siem sim', () => {
  it('prints one JSON line when ready, serves HTTPS with the state-dir CA, and exits on SIGTERM', async () => {
    const stateDir = path.dirname(inject('simulatorCaFile'));
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'sim', '--port', '0', '--state-dir', stateDir, '--seed', 'cli-test'], {
      cwd: path.resolve(path.dirname(script), '..', '..', '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const rl = createInterface({ input: child.stdout });
        rl.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      const ready = JSON.parse(line) as Record<string, string>;
      expect(Object.keys(ready).sort()).toEqual(['caFile', 'clientId', 'clientSecret', 'url', 'usGovClientId', 'usGovClientSecret']);
      expect(ready.url).toMatch(/^https:\/\/localhost:\d+$/);
      expect(ready.caFile).toBe(inject('simulatorCaFile'));
      const res = await getJson(`${ready.url}/organizations/v2.0/.well-known/openid-configuration`);
      expect(res.status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
