import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LogFormat, LogLevel } from './config.ts';

/** The logger sessionkeeper writes through: pino's, so an app can pass its own (`dependencies.logger`). */
export type { Logger } from 'pino';

/**
 * Paths that must never reach a log line, whatever a caller passes in: cookies,
 * authorization headers, passwords and connection strings.
 */
const REDACTED_PATHS = [
  'password', '*.password',
  'databaseUrl', '*.databaseUrl', 'connectionString', '*.connectionString',
  'headers.cookie', 'headers.authorization', '*.headers.cookie', '*.headers.authorization',
  'cookie', 'authorization',
];

/**
 * The structured logger: JSON lines for machines, or a readable colourised
 * line per event on a terminal (pino-pretty as a synchronous stream, so no
 * worker thread and nothing lost on exit).
 */
export function createLogger(options: { level: LogLevel; format: LogFormat }, destination?: NodeJS.WritableStream): Logger {
  const base = { level: options.level, base: { app: 'sessionkeeper' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  if (options.format === 'pretty') {
    return pino(base, loadPinoPretty()({ colorize: Boolean(process.stdout.isTTY) && !destination, destination: destination ?? 1, sync: true, ignore: 'pid,hostname,app' }));
  }
  return destination ? pino(base, destination) : pino(base);
}

/**
 * pino-pretty, loaded only when pretty logs are asked for: a JSON-logging
 * process never loads it. Synchronous (pino-pretty is CommonJS), so creating
 * a logger stays synchronous.
 */
function loadPinoPretty(): typeof PinoPretty {
  const loaded = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty & { default?: typeof PinoPretty };
  return loaded.default ?? loaded;
}
