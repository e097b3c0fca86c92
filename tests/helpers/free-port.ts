/** A TCP port free on 127.0.0.1 right now (for a server that needs its URL known before it starts). */
export { ephemeralPort as freePort } from '../../stack/index.ts';
