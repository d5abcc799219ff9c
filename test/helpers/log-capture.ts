/**
 * The one way a test captures log lines: the library's own logger (JSON, with
 * its redaction of passwords, cookies and connection strings) writing into
 * memory, so a test checks exactly what an operator's log would hold.
 */
import { Writable } from 'node:stream';
import type { LogLevel } from '../../middleware/config.ts';
import { createLogger, type Logger } from '../../middleware/logger.ts';

/** One JSON log line, parsed. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface LogCapture {
  /** The logger to pass as `dependencies.logger` (or to anything that takes a pino logger). */
  logger: Logger;
  /** Every line written so far, parsed, oldest first. */
  lines(): LogLine[];
  /** Every line written so far, as the text written. */
  text(): string;
}

/** A logger at `level` whose lines are kept in memory. */
export function captureLogs(level: LogLevel = 'debug'): LogCapture {
  const written: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      written.push(String(chunk));
      done();
    },
  });
  return {
    logger: createLogger({ level, format: 'json' }, destination),
    lines: () => written.map((line) => JSON.parse(line) as LogLine),
    text: () => written.join(''),
  };
}

/** A logger that writes nothing, for tests that never look at the log. */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent', format: 'json' });
}
