import { choosePort } from '../../stack/index.ts';

/** A TCP port free on 127.0.0.1 right now (for a server that needs its URL known before it starts). */
export { ephemeralPort as freePort } from '../../stack/index.ts';

/**
 * A free port below the kernel's ephemeral range (32768+), for a server a test stops and starts again on the same
 * port: once the first instance closes, an ephemeral port can be taken by any outgoing connection (the restarted
 * service's own Kafka connections come first) before the second instance binds it, and the restart fails with
 * EADDRINUSE. Random start so parallel test files do not all probe the same ports.
 */
export function restartablePort(): Promise<number> {
  return choosePort(20_000 + Math.floor(Math.random() * 1_000) * 10);
}
