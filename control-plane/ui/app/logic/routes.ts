/** The UI's URL paths (history API); pure so the router is unit-tested. */

export type Route =
  | { view: 'organizations' }
  | { view: 'organization'; orgId: string; tab: 'applications' | 'analysis' | 'history' }
  | { view: 'not-found'; path: string };

const TABS = ['applications', 'analysis', 'history'] as const;

export function parseRoute(pathname: string): Route {
  const parts = pathname
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'organizations')) return { view: 'organizations' };
  if (parts[0] === 'organizations' && parts[1] && parts.length <= 3) {
    const tab = parts[2] ?? 'applications';
    if ((TABS as readonly string[]).includes(tab)) return { view: 'organization', orgId: parts[1], tab: tab as (typeof TABS)[number] };
  }
  return { view: 'not-found', path: pathname };
}

export function routePath(route: Route): string {
  switch (route.view) {
    case 'organizations':
      return '/organizations';
    case 'organization':
      return `/organizations/${encodeURIComponent(route.orgId)}/${route.tab}`;
    case 'not-found':
      return route.path;
  }
}
