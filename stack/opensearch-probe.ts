export interface OpenSearchProbeResult {
  readonly version: string;
  readonly distribution: string;
  readonly clusterStatus: 'green' | 'yellow';
}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url} answered HTTP ${res.status}`);
  return res.json();
}

/**
 * Resolves when OpenSearch answers and its cluster health is at least yellow (a single node never
 * reaches green once an index has replicas configured). Rejects otherwise.
 */
export async function probeOpenSearch(baseUrl: string, timeoutMs = 3000): Promise<OpenSearchProbeResult> {
  const base = baseUrl.replace(/\/+$/, '');
  const root = (await getJson(`${base}/`, timeoutMs)) as { version?: { number?: unknown; distribution?: unknown } };
  const version = root.version?.number;
  if (typeof version !== 'string') throw new Error(`${base}/ did not report a version`);
  const health = (await getJson(`${base}/_cluster/health`, timeoutMs)) as { status?: unknown };
  if (health.status !== 'green' && health.status !== 'yellow') {
    throw new Error(`cluster health of ${base} is ${String(health.status)}`);
  }
  return {
    version,
    distribution: typeof root.version?.distribution === 'string' ? root.version.distribution : 'unknown',
    clusterStatus: health.status,
  };
}
