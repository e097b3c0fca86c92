/// <reference lib="dom" />
/** In-app navigation (history API) without importing the shell, so views and the shell do not import each other. */
import { h } from './dom.ts';
import { routePath, type Route } from './logic/routes.ts';

export type Dispose = () => void;

let renderer: () => void = () => {};

export function setRenderer(render: () => void): void {
  renderer = render;
}

export function navigate(route: Route, replace = false): void {
  const path = routePath(route);
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  renderer();
}

/** Links that navigate inside the app without a reload but stay real links (open in new tab, keyboard). */
export function link(route: Route, text: string | Node, props: Record<string, string> = {}): HTMLAnchorElement {
  return h(
    'a',
    {
      ...props,
      href: routePath(route),
      onclick: (event: Event) => {
        const e = event as MouseEvent;
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(route);
      },
    },
    text,
  );
}
