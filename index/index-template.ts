import type { Logger, OpenSearchClient } from '../runtime/index.ts';
import { buildSiemEventsTemplate, dailyIndexPattern, siemEventProperties, type SiemEventsTemplateOptions } from '../schemas/opensearch/index.ts';

/**
 * Installs (or overwrites) the index template `<prefix>` for `<prefix>-*`, so every daily index the indexer creates
 * gets the mappings, settings and the read alias `<prefix>`. A template only shapes indices created after it, so
 * added fields are also put on the existing daily indices (additive mapping changes are allowed; a conflicting one
 * is logged and left for the next day's index).
 */
export async function installIndexTemplate(client: OpenSearchClient, options: SiemEventsTemplateOptions, logger?: Logger): Promise<{ template: string }> {
  const body = buildSiemEventsTemplate(options);
  await client.indices.putIndexTemplate({ name: options.prefix, body } as never);
  try {
    await client.indices.putMapping({
      index: dailyIndexPattern(options.prefix),
      allow_no_indices: true,
      body: { properties: siemEventProperties },
    } as never);
  } catch (error) {
    logger?.warn({ err: error, prefix: options.prefix }, 'could not add the template mappings to existing daily indices');
  }
  return { template: options.prefix };
}

export async function deleteIndexTemplate(client: OpenSearchClient, prefix: string): Promise<void> {
  await client.indices.deleteIndexTemplate({ name: prefix }).catch((error: { meta?: { statusCode?: number } }) => {
    if (error.meta?.statusCode !== 404) throw error;
  });
}
