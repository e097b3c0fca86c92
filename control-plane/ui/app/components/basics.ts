/// <reference lib="dom" />
/** Small pieces every view uses: an in-app link, a status badge, an error banner, a term and its value. */
import { routePath, type Route } from '../logic/routes.ts';
import { navigate } from '../navigation.ts';
import { html } from './html.ts';

/** A real link (new tab, keyboard) that navigates inside the app without a reload. */
export function AppLink({ route, children, ...rest }: { route: Route; children: unknown; [key: string]: unknown }) {
  const onClick = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(route);
  };
  return html`<a href=${routePath(route)} onClick=${onClick} ...${rest}>${children}</a>`;
}

export function Badge({ text, tone }: { text: string; tone: string }) {
  return html`<span class=${`badge badge-${tone}`}>${text}</span>`;
}

/** A readable error banner (role=alert so screen readers announce it). */
export function ErrorBanner({ text, ...rest }: { text: string; [key: string]: unknown }) {
  return html`<div class="notice notice-error" role="alert" ...${rest}>${text}</div>`;
}

export function Fact({ term, children }: { term: string; children: unknown }) {
  return html`<dt>${term}</dt><dd>${children}</dd>`;
}
