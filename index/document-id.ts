import { createHash, hash } from 'node:crypto';

/**
 * The OpenSearch `_id` of an event: base64url of SHA-256 over `orgId \0 eventId`, first 32 characters (192 bits).
 * Deterministic, so retries, Microsoft's re-served content and replays address the same document; the separator
 * keeps ("ab","c") and ("a","bc") apart; including the organization keeps tenants from colliding on a shared
 * Microsoft id. 192 bits make an accidental collision impossible in practice while keeping the id short (ids are
 * part of every index term dictionary). docs/decisions/0040.
 */
export function documentId(orgId: string, eventId: string): string {
  // crypto.hash (one shot, Node ≥ 20.12) is several times cheaper than createHash per event; same digest.
  const digest =
    typeof hash === 'function'
      ? hash('sha256', `${orgId}\u0000${eventId}`, 'base64url')
      : createHash('sha256').update(`${orgId}\u0000${eventId}`).digest('base64url');
  return digest.slice(0, 32);
}
