import type { Logger, OpenSearchClient } from '../runtime/index.ts';
import { organizationAliasFilter, organizationAliasName } from '../schemas/opensearch/index.ts';

/**
 * The filtered alias `<prefix>-org-<orgId>` on every daily index that holds that organization's documents, for
 * per-customer queries and access control. Added right after the first write of an organization into an index
 * (the index exists then); adding an existing alias again is a no-op, so several indexer instances need no
 * coordination and a restart only repeats cheap idempotent calls. No template edits: a template is read-modify-write
 * shared state that concurrent instances would race on (docs/decisions/0042).
 */
export class OrganizationAliases {
  /** Index → organizations already aliased on it (nested rather than a joined key: this runs once per document). */
  private readonly done = new Map<string, Set<string>>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly client: OpenSearchClient,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  /** The (index, org) pairs not yet aliased by this process. */
  missing(pairs: Iterable<{ index: string; orgId: string }>): Array<{ index: string; orgId: string; alias: string }> {
    const out = new Map<string, { index: string; orgId: string; alias: string }>();
    for (const { index, orgId } of pairs) {
      if (this.done.get(index)?.has(orgId)) continue;
      const key = `${index}\u0000${orgId}`;
      if (out.has(key)) continue;
      const alias = organizationAliasName(this.prefix, orgId);
      if (alias === null) {
        if (!this.warned.has(orgId)) {
          this.warned.add(orgId);
          this.logger.warn({ orgId }, 'organization id cannot be an OpenSearch alias name; no per-organization alias');
        }
        continue;
      }
      out.set(key, { index, orgId, alias });
    }
    return [...out.values()];
  }

  /** Adds the aliases in one request; throws on failure (the caller retries, offsets wait). */
  async ensure(pairs: Iterable<{ index: string; orgId: string }>): Promise<number> {
    const todo = this.missing(pairs);
    if (todo.length === 0) return 0;
    await this.client.indices.updateAliases({
      body: {
        actions: todo.map((t) => ({ add: { index: t.index, alias: t.alias, filter: organizationAliasFilter(t.orgId) } })),
      },
    } as never);
    for (const t of todo) {
      let orgs = this.done.get(t.index);
      if (!orgs) {
        orgs = new Set();
        this.done.set(t.index, orgs);
      }
      orgs.add(t.orgId);
    }
    return todo.length;
  }
}
