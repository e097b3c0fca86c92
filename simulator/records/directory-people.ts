import { Rng, uuidFor } from '../deterministic.ts';

/** The deterministic users of a simulated tenant. */
export interface SimUser {
  index: number;
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string;
  surname: string;
  puid: string;
  sid: string;
  mailboxGuid: string;
  isAdmin: boolean;
  jobTitle: string;
}

const GIVEN = [
  'Adele',
  'Alex',
  'Diego',
  'Grady',
  'Henrietta',
  'Isaiah',
  'Johanna',
  'Joni',
  'Lee',
  'Lidia',
  'Lynne',
  'Megan',
  'Miriam',
  'Nestor',
  'Patti',
  'Pradeep',
];
const FAMILY = [
  'Vance',
  'Wilber',
  'Siciliani',
  'Archie',
  'Mueller',
  'Langer',
  'Lorenz',
  'Sherman',
  'Gu',
  'Holloway',
  'Robinson',
  'Bowen',
  'Graham',
  'Wilke',
  'Fernandez',
  'Gupta',
];
const TITLES = ['Marketing Assistant', 'Retail Manager', 'Project Lead', 'Designer', 'Developer', 'Attorney', 'Product Manager', 'Accountant'];

export function buildUsers(seed: string, tenantId: string, domain: string, count: number): SimUser[] {
  const users: SimUser[] = [];
  for (let i = 0; i < Math.max(1, count); i++) {
    const rng = new Rng(`${seed}|${tenantId}|user|${i}`);
    const givenName = i === 0 ? 'Global' : rng.pick(GIVEN);
    const surname = i === 0 ? 'Administrator' : rng.pick(FAMILY);
    const upn = i === 0 ? `admin@${domain}` : `${givenName}.${surname}${i}@${domain}`.toLowerCase();
    users.push({
      index: i,
      id: uuidFor(`${seed}|${tenantId}|user-id|${i}`),
      userPrincipalName: upn,
      displayName: `${givenName} ${surname}`,
      givenName,
      surname,
      puid: rng.hex(16).toUpperCase(),
      sid: `S-1-5-21-${rng.range(1000000000, 4000000000)}-${rng.range(1000000000, 4000000000)}-${rng.range(1000000000, 4000000000)}-${rng.range(1000, 99999)}`,
      mailboxGuid: rng.uuid(),
      isAdmin: i === 0,
      jobTitle: i === 0 ? 'IT Administrator' : rng.pick(TITLES),
    });
  }
  return users;
}

export const APPS = [
  { appId: '00000002-0000-0ff1-ce00-000000000000', name: 'Office 365 Exchange Online' },
  { appId: '00000003-0000-0ff1-ce00-000000000000', name: 'Office 365 SharePoint Online' },
  { appId: '1fec8e78-bce4-4aaf-ab1b-5451cc387264', name: 'Microsoft Teams' },
  { appId: '4765445b-32c6-49b0-83e6-1d93765276ca', name: 'OfficeHome' },
  { appId: 'c44b4083-3bb0-49c1-b47d-974e53cbdf3c', name: 'Azure Portal' },
  { appId: 'd3590ed6-52b3-4102-aeff-aad2292ab01c', name: 'Microsoft Office' },
] as const;

export const LOCATIONS = [
  { city: 'Redmond', state: 'Washington', countryOrRegion: 'US', latitude: 47.674, longitude: -122.122 },
  { city: 'Amsterdam', state: 'Noord-Holland', countryOrRegion: 'NL', latitude: 52.374, longitude: 4.898 },
  { city: 'London', state: 'England', countryOrRegion: 'GB', latitude: 51.507, longitude: -0.128 },
  { city: 'Sao Paulo', state: 'Sao Paulo', countryOrRegion: 'BR', latitude: -23.55, longitude: -46.633 },
  { city: 'Lagos', state: 'Lagos', countryOrRegion: 'NG', latitude: 6.455, longitude: 3.394 },
  { city: 'Singapore', state: 'Singapore', countryOrRegion: 'SG', latitude: 1.29, longitude: 103.85 },
] as const;

export function ipv4(rng: Rng): string {
  return `${rng.pick([20, 40, 52, 81, 102, 145, 185, 203])}.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;
}

export function ipv6(rng: Rng): string {
  return `2001:${rng.hex(4)}:${rng.hex(4)}:${rng.hex(4)}::${rng.hex(3)}`;
}

/** ClientIP in the forms real audit records use: ip, ip:port, [ipv6]:port, bare ipv6. */
export function clientIpVariant(rng: Rng): string {
  const r = rng.int(4);
  if (r === 0) return ipv4(rng);
  if (r === 1) return `${ipv4(rng)}:${rng.range(1024, 65535)}`;
  if (r === 2) return `[${ipv6(rng)}]:${rng.range(1024, 65535)}`;
  return ipv6(rng);
}

// Formatting dates is a visible share of generation cost; records of a blob share seconds, so a tiny
// direct-mapped cache of formatted seconds pays off.
const SECOND_KEYS = new Float64Array(256).fill(-1);
const SECOND_TEXT: string[] = new Array<string>(256).fill('');

/** Management API CreationTime: UTC without a zone suffix and without fractions. */
export function creationTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  const slot = sec & 255;
  if (SECOND_KEYS[slot] === sec) return SECOND_TEXT[slot] as string;
  const text = new Date(sec * 1000).toISOString().slice(0, 19);
  SECOND_KEYS[slot] = sec;
  SECOND_TEXT[slot] = text;
  return text;
}

/** Graph DateTimeOffset: UTC with Z and seven fraction digits (100 ns ticks), as the audit APIs return it. */
export function graphTime(ms: number): string {
  const millis = ms - Math.floor(ms / 1000) * 1000;
  return `${creationTime(ms)}.${String(millis).padStart(3, '0')}0000Z`;
}
