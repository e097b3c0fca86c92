import { z } from 'zod';

/**
 * One configuration setting read from the environment. The env var name travels with the schema so a
 * validation failure can name the exact setting the operator has to fix.
 */
export interface Setting<T extends z.ZodType> {
  readonly env: string;
  readonly schema: T;
  readonly description: string;
}

export function setting<T extends z.ZodType>(env: string, schema: T, description: string): Setting<T> {
  return { env, schema, description };
}

export type SettingsSpec = Record<string, Setting<z.ZodType>>;
export type SettingsOf<S extends SettingsSpec> = { [K in keyof S]: z.output<S[K]['schema']> };

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses every setting of a spec at once and reports all bad settings together, each by its env var name.
 * Empty strings count as unset so `FOO=` in a compose file falls back to the default.
 */
export function parseSettings<S extends SettingsSpec>(spec: S, env: Env): SettingsOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) {
    const raw = env[s.env];
    const result = s.schema.safeParse(raw === '' ? undefined : raw);
    if (result.success) out[key] = result.data;
    else {
      const detail = result.error.issues.map((i) => i.message).join('; ');
      problems.push(`${s.env}: ${detail} (${s.description})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as SettingsOf<S>;
}

/** Lists a spec's settings for documentation (README tables, `m365-siem config`). */
export function describeSettings(spec: SettingsSpec): Array<{ env: string; description: string }> {
  return Object.values(spec).map((s) => ({ env: s.env, description: s.description }));
}

// Reusable env value schemas.
export const envBoolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));

export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

export const envList = (fallback: readonly string[]) =>
  z
    .string()
    .optional()
    .transform((v) =>
      v === undefined
        ? [...fallback]
        : v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    );

function isAbsoluteUrl(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

export const envUrl = (fallback?: string) =>
  (fallback === undefined ? z.string({ message: 'required' }) : z.string().default(fallback)).refine(isAbsoluteUrl, { message: 'expected an absolute URL' });

/** An absolute URL that may be left unset (undefined then). */
export const envOptionalUrl = () =>
  z
    .string()
    .optional()
    .refine((v) => v === undefined || isAbsoluteUrl(v), { message: 'expected an absolute URL' });
