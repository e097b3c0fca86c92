/// <reference lib="dom" />
/**
 * Entry of the operator UI: sign-in with an operator token, the shell (side navigation), the router and the
 * organizations list. Views render into <main> and return a disposer that stops their timers.
 */
import { api, getToken, onUnauthorized, setToken } from './api-client.ts';
import { errorBanner, h, replaceChildren, uid } from './dom.ts';
import { describeError } from './logic/error-message.ts';
import { parseRoute, type Route } from './logic/routes.ts';
import { scopeText } from './logic/principal.ts';
import type { Organization, Principal } from './logic/api-types.ts';
import { link, navigate, setRenderer, type Dispose } from './navigation.ts';
import { renderOrganization } from './views/organization-view.ts';
import { FleetList } from './components/fleet-list.ts';
import { html, render as renderComponent } from './components/html.ts';
import { fleetRows } from './logic/fleet.ts';

let disposeView: Dispose = () => {};
/** The signed-in token's scope; null until GET /me answered (the API enforces the scope either way). */
let principal: Principal | null = null;
let signInNotice: string | null = null;

function root(): HTMLElement {
  const el = document.getElementById('app');
  if (!el) throw new Error('#app missing from index.html');
  return el;
}

function renderSignIn(): void {
  disposeView();
  disposeView = () => {};
  const tokenId = uid('token');
  const errorBox = h('div', { 'aria-live': 'polite' });
  if (signInNotice) errorBox.append(errorBanner(signInNotice));
  const input = h('input', { id: tokenId, name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card signin',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        submit.disabled = true;
        replaceChildren(errorBox);
        try {
          await api.verifyToken(token);
          setToken(token);
          principal = null;
          signInNotice = null;
          if (location.pathname === '/' || location.pathname === '') history.replaceState(null, '', '/organizations');
          render();
        } catch (error) {
          replaceChildren(errorBox, errorBanner(describeError(error)));
          submit.disabled = false;
          input.focus();
        }
      },
    },
    h('h1', null, 'M365 SIEM control plane'),
    h('p', null, 'Sign in with an operator token. The token is kept in this browser tab only and is forgotten when the tab closes.'),
    h('label', { for: tokenId }, 'Operator token'),
    input,
    errorBox,
    h('div', { class: 'actions' }, submit),
  );
  replaceChildren(root(), h('main', { id: 'main', class: 'signin-page' }, form));
  input.focus();
}

function shell(route: Route): HTMLElement {
  const main = h('main', { id: 'main', tabindex: '-1' });
  const orgsActive = route.view === 'organizations' || route.view === 'organization';
  const nav = h(
    'nav',
    { class: 'sidenav', 'aria-label': 'Main' },
    h('div', { class: 'brand' }, 'M365 SIEM'),
    h('ul', null, h('li', null, link({ view: 'organizations' }, 'Organizations', orgsActive ? { 'aria-current': 'page' } : {}))),
    h(
      'button',
      {
        type: 'button',
        class: 'link-button signout',
        onclick: () => {
          setToken(null);
          principal = null;
          signInNotice = 'You signed out.';
          render();
        },
      },
      'Sign out',
    ),
  );
  nav.append(h('p', { class: 'muted small signed-in', 'data-testid': 'signed-in' }, principal ? scopeText(principal) : ''));
  replaceChildren(root(), h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'), h('div', { class: 'layout' }, nav, main));
  return main;
}

export function render(): void {
  disposeView();
  disposeView = () => {};
  if (!getToken()) {
    renderSignIn();
    return;
  }
  const route = parseRoute(location.pathname);
  const main = shell(route);
  switch (route.view) {
    case 'organizations':
      disposeView = renderOrganizations(main);
      document.title = 'Organizations · M365 SIEM';
      break;
    case 'organization':
      disposeView = renderOrganization(main, route.orgId, route.tab);
      break;
    case 'not-found':
      replaceChildren(main, h('h1', null, 'Page not found'), h('p', null, link({ view: 'organizations' }, 'Go to Organizations')));
      break;
  }
}

function renderOrganizations(main: HTMLElement): Dispose {
  let disposed = false;
  const nameId = uid('org-name');
  const listMessage = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading organizations…'));
  // Preact owns fleetRoot; the plain DOM code only touches listMessage.
  const fleetRoot = h('div');
  const listBox = h('div', { 'aria-busy': 'true' }, listMessage, fleetRoot);
  let highlighted: string | undefined;
  const formMessage = h('div', { 'aria-live': 'polite' });
  const nameInput = h('input', { id: nameId, name: 'name', type: 'text', required: true, maxlength: '200', autocomplete: 'off' });
  const addButton = h('button', { type: 'submit', class: 'primary' }, 'Add organization');
  const form = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const name = nameInput.value.trim();
        if (!name) return;
        addButton.disabled = true;
        replaceChildren(formMessage);
        try {
          const created = await api.addOrganization(name);
          nameInput.value = '';
          replaceChildren(formMessage, h('div', { class: 'notice notice-ok', role: 'status' }, `Organization “${created.name ?? name}” added.`));
          await load(created.id);
        } catch (error) {
          replaceChildren(formMessage, errorBanner(describeError(error)));
        } finally {
          addButton.disabled = false;
        }
      },
    },
    h('label', { for: nameId }, 'Organization name'),
    nameInput,
    addButton,
  );

  async function load(highlight?: string): Promise<void> {
    let orgs: Organization[];
    try {
      orgs = await api.listOrganizations();
    } catch (error) {
      if (!disposed) replaceChildren(listMessage, errorBanner(describeError(error)));
      return;
    }
    if (disposed) return;
    listBox.setAttribute('aria-busy', 'false');
    if (orgs.length === 0) {
      const scoped = principal !== null && !principal.canCreateOrganizations;
      renderComponent(null, fleetRoot);
      replaceChildren(
        listMessage,
        h('p', { class: 'empty' }, scoped ? "No organizations in this token's scope yet." : 'No organizations yet. Add the first one above.'),
      );
      return;
    }
    replaceChildren(listMessage);
    // Activity is extra: without OpenSearch the list still shows every organization and its status.
    const activity = await api.fleetActivity().then(
      (a) => a.items,
      () => [],
    );
    if (disposed) return;
    if (highlight) highlighted = highlight;
    renderComponent(html`<${FleetList} rows=${fleetRows(orgs, activity)} highlight=${highlighted} />`, fleetRoot);
  }

  const addSection = h('section', { class: 'card', 'aria-labelledby': `${nameId}-h` }, h('h2', { id: `${nameId}-h` }, 'Add organization'), form, formMessage);
  const listHeading = h('h2', null, 'All organizations');
  replaceChildren(main, h('h1', null, 'Organizations'), addSection, h('section', { class: 'card' }, listHeading, listBox));
  // A scoped token sees only its organizations and cannot add one: say so instead of offering a form that gets 403.
  const applyScope = (p: Principal) => {
    if (!p.canCreateOrganizations) addSection.remove();
    if (!p.allOrganizations) listHeading.textContent = 'Your organizations';
  };
  if (principal) applyScope(principal);
  else
    void api
      .me()
      .then((p) => {
        principal = p;
        const signedIn = document.querySelector('[data-testid="signed-in"]');
        if (signedIn) signedIn.textContent = scopeText(p);
        if (!disposed) applyScope(p);
      })
      .catch(() => undefined);
  void load();
  // Refresh statuses, but never under the operator's keyboard focus.
  const timer = setInterval(() => {
    if (!listBox.contains(document.activeElement)) void load();
  }, 15_000);
  return () => {
    disposed = true;
    clearInterval(timer);
    renderComponent(null, fleetRoot);
  };
}

onUnauthorized((message) => {
  setToken(null);
  principal = null;
  signInNotice = message;
  render();
});
setRenderer(render);
window.addEventListener('popstate', () => render());
render();
