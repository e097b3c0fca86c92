/**
 * Plays the administrator in the simulator's admin-consent page over plain HTTP, the way a browser would:
 * open the consent URL signed in as `account`, press Accept or Cancel, and return where Microsoft redirects.
 * Used by the demo (`m365-siem start`) and by tests; the browser tests click the real page instead.
 */
export interface ConsentOutcome {
  /** The redirect target with Microsoft's query (admin_consent/tenant/state or error/error_description/state). */
  redirectUrl: string;
}

function hiddenFields(html: string, formAction: 'accept' | 'cancel'): URLSearchParams {
  const forms = html.split(/<form\b/i).slice(1);
  const form = forms.find((f) => new RegExp(`name="action" value="${formAction}"`).test(f));
  if (!form) throw new Error(`consent page has no ${formAction} form`);
  const body = new URLSearchParams();
  for (const m of form.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    body.set(decodeEntities(m[1] ?? ''), decodeEntities(m[2] ?? ''));
  }
  return body;
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
  const url = new URL(consentUrl);
  url.searchParams.set('login_hint', account);
  const page = await fetch(url, { redirect: 'manual' });
  if (page.status === 302) return { redirectUrl: page.headers.get('location') ?? '' };
  const html = await page.text();
  if (page.status !== 200) throw new Error(`consent page answered ${page.status}: ${html.slice(0, 300)}`);
  const body = hiddenFields(html, choice);
  const answer = await fetch(new URL(url.pathname, url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const location = answer.headers.get('location');
  if (answer.status !== 302 || !location) throw new Error(`consent answer was ${answer.status}: ${(await answer.text()).slice(0, 300)}`);
  return { redirectUrl: location };
}
