/**
 * `m365-siem normalize [--in FILE] [--out FILE]` (raw envelopes as JSON lines → plain events as JSON lines, through
 * the service's mapping code), `m365-siem tail [--org ID] [--from-beginning]` (decode siem.events) and
 * `m365-siem start normalize`.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { Shutdown, createKafkaClient, createLogger, parseCommonSettings, parseKafkaSettings, parseTopicSettings, topicSpecs } from '../runtime/index.ts';
import { SiemEventEncodingError, decodeSiemEvent, schemaIdOf, toPlainJson } from '../schemas/index.ts';
import { encodeEvent, normalizeValue } from './mapper.ts';
import { parseNormalizeConfig } from './config.ts';
import { fetchSchemaById } from './schema-registration.ts';

export interface NormalizeLinesResult {
  lines: number;
  events: number;
  failed: number;
}

/**
 * The `normalize` command's core: each non-empty input line is one m365.raw envelope; each output line the plain JSON
 * event a siem.events consumer sees (mapped, Avro-encoded and decoded again, so it is exactly what the schema carries).
 */
export async function normalizeLines(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
  options: { nowMicros?: () => number; vendorFields?: boolean } = {},
): Promise<NormalizeLinesResult> {
  const result: NormalizeLinesResult = { lines: 0, events: 0, failed: 0 };
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const line of rl) {
    result.lines++;
    if (line.trim().length === 0) continue;
    const mapped = normalizeValue(line, options);
    const encoded = mapped.kind === 'ok' ? encodeEvent(mapped.value) : mapped;
    if (encoded.kind !== 'ok') {
      result.failed++;
      const why = encoded.kind === 'dead-letter' ? `${encoded.code}: ${encoded.reason}` : encoded.reason;
      errors.write(`line ${result.lines}: ${why}\n`);
      continue;
    }
    result.events++;
    if (!output.write(`${JSON.stringify(toPlainJson(decodeSiemEvent(encoded.value as Buffer)))}\n`)) await once(output, 'drain');
  }
  return result;
}

export function registerNormalizeCommands(program: Command): void {
  program
    .command('normalize')
    .description("map m365.raw envelopes (JSON lines) to SIEM events (JSON lines) with the normalizer's mapping; bad lines go to stderr")
    .option('--in <file>', 'input file of JSON lines (default: stdin)')
    .option('--out <file>', 'output file (default: stdout)')
    .option('--vendor-fields', 'also fill m365.fields (the record flattened to dotted paths), as NORMALIZE_VENDOR_FIELDS=true does')
    .action(async (opts: { in?: string; out?: string; vendorFields?: boolean }) => {
      const input = opts.in ? createReadStream(opts.in) : process.stdin;
      const output = opts.out ? createWriteStream(opts.out) : process.stdout;
      const result = await normalizeLines(input, output, process.stderr, { vendorFields: opts.vendorFields === true });
      if (opts.out)
        await new Promise<void>((resolve, reject) => (output as ReturnType<typeof createWriteStream>).end((e?: Error | null) => (e ? reject(e) : resolve())));
      if (result.failed > 0) {
        process.stderr.write(`${result.failed} of ${result.events + result.failed} records failed\n`);
        process.exitCode = 1;
      }
    });

  program
    .command('tail')
    .description('print siem.events (read_committed) as JSON lines: the example consumer for alerting and Respond integrations')
    .option('--org <id>', 'only this organization')
    .option('--from-beginning', 'start at the oldest retained event instead of the newest')
    .action(async (opts: { org?: string; fromBeginning?: boolean }) => {
      const logger = createLogger('tail', { level: parseCommonSettings(process.env).logLevel === 'info' ? 'warn' : parseCommonSettings(process.env).logLevel });
      const topics = topicSpecs(parseTopicSettings(process.env));
      const settings = parseNormalizeConfig(process.env).settings;
      const kafka = createKafkaClient(parseKafkaSettings(process.env), logger, 'tail');
      const groupId = `m365-siem-tail-${process.pid}-${Date.now()}`;
      const consumer = kafka.consumer({ groupId, readCommitted: true });
      const stop = async () => {
        await consumer.disconnect().catch(() => undefined);
        const admin = kafka.admin();
        await admin.connect();
        await admin.deleteGroups([groupId]).catch(() => undefined);
        await admin.disconnect();
      };
      const shutdown = new Shutdown(logger);
      shutdown.register('tail', stop);
      shutdown.installSignalHandlers();
      await consumer.connect();
      await consumer.subscribe({ topic: topics.events.name, fromBeginning: opts.fromBeginning === true });
      await consumer.run({
        autoCommit: true,
        eachMessage: async ({ message, partition }) => {
          if (!message.value) return;
          if (opts.org && message.key?.toString('utf8') !== opts.org) return;
          let event;
          try {
            event = decodeSiemEvent(message.value);
          } catch (error) {
            if (error instanceof SiemEventEncodingError && error.code === 'unknown_schema_id' && settings.schemaRegistryUrl) {
              await fetchSchemaById(
                { url: settings.schemaRegistryUrl, username: settings.schemaRegistryUsername, password: settings.schemaRegistryPassword },
                schemaIdOf(message.value),
              );
              event = decodeSiemEvent(message.value);
            } else {
              process.stderr.write(`partition ${partition} offset ${message.offset}: ${error instanceof Error ? error.message : String(error)}\n`);
              return;
            }
          }
          if (opts.org && event.organization.id !== opts.org) return;
          if (!process.stdout.write(`${JSON.stringify(toPlainJson(event))}\n`)) await once(process.stdout, 'drain');
        },
      });
    });
}
