/// <reference lib="dom" />
/**
 * Opens Microsoft's admin-consent page in a pop-up and reports how it ended. Two channels, so the UI works even
 * when one fails: the callback page posts a message to this window (consent-callback-script.ts), and the caller
 * polls the status endpoint while the pop-up is open. A blocked pop-up (window.open returns null) is reported at
 * once so the view can explain it and offer the link.
 */
import { parseConsentMessage, type ConsentMessage } from './logic/consent-message.ts';

export type ConsentEnd =
  | { kind: 'message'; message: ConsentMessage }
  /** The pop-up is back on this origin at the callback page; its words (the outcome, in prose) are read from it. */
  | { kind: 'landed'; title: string; text: string; httpStatus: number | null }
  | { kind: 'closed' };

export const CALLBACK_PATH = '/oauth/microsoft/callback';

/** The callback page's heading and text when the pop-up shows it (same origin again), else null. */
function landedPage(popup: Window): { title: string; text: string; httpStatus: number | null } | null {
  try {
    if (popup.location.origin !== window.location.origin || !popup.location.pathname.startsWith(CALLBACK_PATH)) return null;
    const doc = popup.document;
    if (doc.readyState !== 'complete') return null;
    const title = doc.querySelector('h1')?.textContent?.trim() ?? doc.title;
    const text = Array.from(doc.querySelectorAll('p'))
      .map((p) => p.textContent?.trim() ?? '')
      .filter(Boolean)
      .join(' ');
    // The callback answers failures with a 4xx status (issue 4); Chromium exposes it on the navigation entry.
    const nav = popup.performance?.getEntriesByType('navigation')[0] as (PerformanceEntry & { responseStatus?: number }) | undefined;
    const httpStatus = typeof nav?.responseStatus === 'number' && nav.responseStatus > 0 ? nav.responseStatus : null;
    return { title, text: text.slice(0, 500), httpStatus };
  } catch {
    return null; // still on Microsoft's (cross-origin) pages
  }
}

export interface ConsentSession {
  /** Null when the browser blocked the pop-up. */
  popup: Window | null;
  /** Resolves when the callback page reported or the pop-up was closed. Never rejects. */
  ended: Promise<ConsentEnd>;
  /** Stops watching (view left). */
  dispose(): void;
}

const POPUP_FEATURES = 'popup=yes,width=620,height=720,resizable=yes,scrollbars=yes';

export function openConsentPopup(url: string, orgId: string): ConsentSession {
  let popup: Window | null = null;
  try {
    popup = window.open(url, 'm365-consent', POPUP_FEATURES);
  } catch {
    popup = null;
  }
  return watchConsent(popup, orgId);
}

/** Watches for the callback's message (also from a tab opened through the fallback link) and, with a pop-up, its closing. */
export function watchConsent(popup: Window | null, orgId: string): ConsentSession {
  let timer: ReturnType<typeof setInterval> | undefined;
  let listener: ((event: MessageEvent) => void) | undefined;
  let settle: (end: ConsentEnd) => void = () => {};
  const ended = new Promise<ConsentEnd>((resolve) => {
    settle = (end) => {
      cleanup();
      resolve(end);
    };
  });
  function cleanup(): void {
    if (timer !== undefined) clearInterval(timer);
    if (listener) window.removeEventListener('message', listener);
    timer = undefined;
    listener = undefined;
  }
  listener = (event: MessageEvent) => {
    if (event.origin !== window.location.origin) return;
    const message = parseConsentMessage(event.data);
    if (!message || (message.orgId !== null && message.orgId !== orgId)) return;
    settle({ kind: 'message', message });
  };
  window.addEventListener('message', listener);
  let landedSince: number | undefined;
  if (popup) {
    timer = setInterval(() => {
      let closed = false;
      try {
        closed = popup.closed;
      } catch {
        closed = false;
      }
      // A short grace lets a message posted just before window.close() arrive first.
      if (closed) {
        setTimeout(() => settle({ kind: 'closed' }), 300);
        return;
      }
      // Without the callback's message (older page, script blocked) the page itself still tells the outcome.
      const landed = landedPage(popup);
      if (landed) {
        landedSince ??= Date.now();
        if (Date.now() - landedSince >= 1200) settle({ kind: 'landed', ...landed });
      }
    }, 500);
  }
  return { popup, ended, dispose: cleanup };
}
