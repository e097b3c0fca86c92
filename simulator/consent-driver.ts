/**
 * Plays the administrator's browser through the simulator's sign-in and admin-consent pages over plain HTTP, the way
 * a browser would: it follows redirects across origins (the app's callback sends the browser on from the sign-in to
 * admin consent), keeps the simulator's session cookie, signs in as `account`, presses Accept or Cancel on the
 * consent page, and stops at the first answer that is neither a redirect nor a simulator page to answer. Used by
 * the demo (`m365-siem start`) and by tests; the browser tests click the real pages instead.
 */
export interface ConsentOutcome {
  /** Where the run ended: Microsoft refused (an error page) or the app's callback answered. */
  stage: 'microsoft' | 'callback';
  status: number;
  html: string;
  /** The last URL of the app's callback that answered (replaying it shows what a replayed link does). */
  callbackUrl?: string;
  /** Every app callback URL visited, in order (sign-in step, then consent step). */
  callbackUrls: string[];
}

function hiddenFields(html: string, formAction: 'accept' | 'cancel'): { action: string; body: URLSearchParams } | undefined {
  const forms = [...html.matchAll(/<form method="post" action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((f) => (f[2] ?? '').includes(`name="action" value="${formAction}"`));
  if (!form) return undefined;
  const body = new URLSearchParams();
  for (const m of (form[2] ?? '').matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g))
    body.set(decodeEntities(m[1] ?? ''), decodeEntities(m[2] ?? ''));
  return { action: decodeEntities(form[1] ?? ''), body };
}

function decodeEntities(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export async function answerConsent(consentUrl: string, account: string, choice: 'accept' | 'cancel'): Promise<ConsentOutcome> {
  const start = new URL(consentUrl);
  const microsoft = start.origin;
  start.searchParams.set('login_hint', account);
  const cookies = new Map<string, string>();
  const callbackUrls: string[] = [];
  let request: { url: URL; init: RequestInit } = { url: start, init: {} };
  let answered = false;
  for (let hop = 0; hop < 20; hop++) {
    const toMicrosoft = request.url.origin === microsoft;
    const headers = new Headers(request.init.headers);
    if (toMicrosoft && cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    if (!toMicrosoft) callbackUrls.push(request.url.toString());
    const res = await fetch(request.url, { ...request.init, headers, redirect: 'manual' });
    if (toMicrosoft) {
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const eq = pair?.indexOf('=') ?? -1;
        if (pair && eq > 0) cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      request = { url: new URL(location, request.url), init: {} };
      continue;
    }
    const html = await res.text();
    if (!toMicrosoft) return { stage: 'callback', status: res.status, html, callbackUrl: request.url.toString(), callbackUrls };
    const form = res.status === 200 && !answered ? hiddenFields(html, choice) : undefined;
    if (!form) return { stage: 'microsoft', status: res.status, html, callbackUrls };
    answered = true;
    request = {
      url: new URL(form.action, request.url),
      init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.body.toString() },
    };
  }
  throw new Error('the consent round trip did not end within 20 redirects');
}
