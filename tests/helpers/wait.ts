/**
 * The one poll-until helper of the test suite (issue 14 item 4): every "wait for X" in a test is a condition polled
 * here with a deadline, never a fixed sleep. The e2e `waitUntil`, the ingest fixture's `waitUntil` and the control
 * plane's `eventually` are thin wrappers over it.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    // The poll interval between two checks of the condition, not a synchronisation.
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
