/// <reference lib="dom" />
/**
 * The UI's only backend: the control plane's REST API under /api/v1 (issue 4). Every failure becomes an ApiError
 * with a readable message; the bearer token lives in sessionStorage only (gone when the tab closes).
 */
import { ApiError, errorMessageFromResponse } from './logic/error-message.ts';
import type {
  ConsentUrlResponse,
  EventsPage,
  FleetActivity,
  HistoryEntry,
  HourlyActivity,
  MicrosoftManageApplication,
  Organization,
  Principal,
} from './logic/api-types.ts';

const TOKEN_KEY = 'm365siem.operatorToken';
const BASE = '/api/v1';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called when the API refuses the token, so the shell can return to the sign-in screen. */
let unauthorizedHandler: (message: string) => void = () => {};
export function onUnauthorized(handler: (message: string) => void): void {
  unauthorizedHandler = handler;
}

async function request<T>(method: string, path: string, body?: unknown, token: string | null = getToken()): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${BASE}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'The control plane could not be reached. Check that it is running and try again.');
  }
  const text = await response.text();
  if (!response.ok) {
    const { code, message } = errorMessageFromResponse(response.status, text);
    if (response.status === 401) unauthorizedHandler(message);
    throw new ApiError(response.status, code, message);
  }
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, 'bad_response', 'The control plane answered with something the UI cannot read.');
  }
}

const org = (id: string) => `/organizations/${encodeURIComponent(id)}`;
const app = (id: string) => `${org(id)}/applications/microsoft-manage`;

export const api = {
  /** Checks a token before keeping it. */
  verifyToken: (token: string) => request<unknown>('GET', '/organizations', undefined, token),
  /** The token's label and scope (which organizations, which role, whether it may add organizations). */
  me: () => request<Principal>('GET', '/me'),
  listOrganizations: async (): Promise<Organization[]> => (await request<{ items: Organization[] }>('GET', '/organizations')).items,
  getOrganization: (id: string) => request<Organization>('GET', org(id)),
  addOrganization: (name: string) => request<Organization>('POST', '/organizations', { name }),
  /** The application, or null when the organization has none (404). */
  getApplication: async (id: string): Promise<MicrosoftManageApplication | null> => {
    try {
      return await request<MicrosoftManageApplication>('GET', app(id));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && error.code !== 'organization_not_found') return null;
      throw error;
    }
  },
  connect: (id: string, body: { autoUpgrade: boolean; cloud: string; tenant?: string }) => request<ConsentUrlResponse>('POST', app(id), body),
  setAutoUpgrade: (id: string, autoUpgrade: boolean) => request<unknown>('PATCH', app(id), { autoUpgrade }),
  approveUpgrade: (id: string) => request<ConsentUrlResponse>('POST', `${app(id)}/upgrades/approve`),
  repair: (id: string) => request<ConsentUrlResponse>('POST', `${app(id)}/repair`),
  disconnect: (id: string) => request<unknown>('DELETE', app(id)),
  history: async (id: string): Promise<HistoryEntry[]> => (await request<{ items: HistoryEntry[] }>('GET', `${org(id)}/history`)).items,
  events: (id: string, query: string) => request<EventsPage>('GET', `${org(id)}/events?${query}`),
  hourlyActivity: (id: string) => request<HourlyActivity>('GET', `${org(id)}/events/hourly`),
  fleetActivity: () => request<FleetActivity>('GET', '/fleet/activity'),
};
