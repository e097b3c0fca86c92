/**
 * The message the consent callback page posts to the UI window that opened the pop-up
 * (control-plane/ui/consent-callback-script.ts writes it; the UI validates it before believing it).
 */

export const CONSENT_MESSAGE_TYPE = 'm365-consent';

export interface ConsentMessage {
  type: typeof CONSENT_MESSAGE_TYPE;
  ok: boolean;
  orgId: string | null;
  /** Readable outcome from the callback page, e.g. Microsoft's error for a declined consent. */
  message: string | null;
}

/** The message, or null when `data` is not one of ours (other windows and extensions post messages too). */
export function parseConsentMessage(data: unknown): ConsentMessage | null {
  if (typeof data !== 'object' || data === null) return null;
  const d = data as Record<string, unknown>;
  if (d.type !== CONSENT_MESSAGE_TYPE || typeof d.ok !== 'boolean') return null;
  return {
    type: CONSENT_MESSAGE_TYPE,
    ok: d.ok,
    orgId: typeof d.orgId === 'string' ? d.orgId : null,
    message: typeof d.message === 'string' ? d.message.slice(0, 500) : null,
  };
}
