import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Paths pino censors wherever they appear (one or two levels deep). Secrets and tokens never reach logs:
 * callers must still avoid interpolating them into messages.
 */
export const REDACTED_PATHS = [
  'password',
  'secret',
  'clientSecret',
  'client_secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'authorization',
  'Authorization',
  'apiKey',
  'privateKey',
  'assertion',
  'client_assertion',
  'sasl.password',
  'headers.authorization',
  'headers.Authorization',
  'req.headers.authorization',
  '*.password',
  '*.secret',
  '*.clientSecret',
  '*.client_secret',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.authorization',
  '*.privateKey',
  '*.assertion',
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where log lines go; defaults to stderr so stdout stays free for CLI output (JSON lines, ready lines). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: component,
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** Scrubs bearer tokens and `client_secret=`/`client_assertion=` values from free text (error messages, URLs). */
export function scrubSecrets(text: string): string {
  return text
    .replace(/(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi, '$1[redacted]')
    .replace(/((?:client_secret|client_assertion|password|access_token)=)[^&\s"]+/gi, '$1[redacted]')
    .replace(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted-jwt]');
}
