/// <reference lib="dom" />
/** A tiny element builder: the UI needs no framework, only safe DOM construction (no innerHTML anywhere). */

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (event: Event) => void;
export type Props = Record<string, string | number | boolean | Handler | null | undefined>;

/** Properties set as DOM properties rather than attributes (their live state matters). */
const PROPERTIES = new Set(['checked', 'disabled', 'value', 'selected', 'hidden', 'open']);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2).toLowerCase(), value as Handler);
      } else if (PROPERTIES.has(key)) {
        (el as unknown as Record<string, unknown>)[key] = value;
      } else if (key === 'class') {
        el.className = String(value);
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let idCounter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

export function badge(text: string, tone: string): HTMLSpanElement {
  return h('span', { class: `badge badge-${tone}` }, text);
}

/** A readable error banner (role=alert so screen readers announce it). */
export function errorBanner(message: string): HTMLDivElement {
  return h('div', { class: 'notice notice-error', role: 'alert' }, message);
}
