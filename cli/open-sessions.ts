/**
 * The sessions a command works on: the library's settings read as the
 * application reads them, a logger on stderr (stdout carries only the
 * command's output), and a close that never waits forever.
 */
import { randomBytes } from 'node:crypto';
import { optionsFromEnv, resolveConfig, type SessionkeeperConfig } from '../middleware/config.ts';
import { createLogger, type Logger } from '../middleware/logger.ts';
import { openSessionkeeper, type SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import type { Env } from '../middleware/settings.ts';

/** How long closing (events still queued for the shared log, then the store) may take before the CLI exits anyway. */
const CLOSE_WITHIN_MS = 5_000;
/** The same for a store whose last call failed: nothing would be stored, so waiting only delays the exit. */
const CLOSE_DOWN_STORE_WITHIN_MS = 1_000;

/**
 * The library's settings from the environment, with the CLI's own default: LOG_LEVEL `warn`, so that a
 * command prints only its output and what went wrong. The commands that only read and clean up sign no
 * cookies, so they need no SESSION_KEYS, even with NODE_ENV=production; the dashboard signs its sign-in
 * cookies and needs them as an application does (`signsCookies`). Throws ConfigError.
 */
export function loadCliConfig(env: Env, { signsCookies }: { signsCookies: boolean }): SessionkeeperConfig {
  const options = optionsFromEnv(env);
  // A key nobody uses: it only satisfies the production rule that cookies be signed with configured keys.
  const unusedKey = signsCookies ? undefined : [randomBytes(32).toString('base64url')];
  return resolveConfig({ logLevel: 'warn', ...options, keys: options.keys ?? unusedKey }, Boolean(process.stderr.isTTY));
}

/** Opens the store and its event log (the store need not answer yet: the first call says whether it does). */
export function openCliSessions(config: SessionkeeperConfig): Promise<SessionkeeperCore> {
  return openSessionkeeper(config, { logger: cliLogger(config) });
}

/**
 * Log lines on stderr, errors without their stack: an operator reads what failed, not where in the code.
 * `LOG_FORMAT` as the library reads it (pretty when stderr is a terminal).
 */
export function cliLogger(config: SessionkeeperConfig): Logger {
  return createLogger({ level: config.logLevel, format: config.logFormat }, process.stderr).child({}, { serializers: { err: briefError } });
}

function briefError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const { code } = err as { code?: unknown };
  return { type: err.name, message: err.message, ...(code === undefined ? {} : { code }) };
}

/**
 * Stores the events still queued, then closes the store; gives up after CLOSE_WITHIN_MS, or sooner when the
 * store is down (a store that stopped answering must not hang the CLI). Never throws: the command's outcome
 * is already decided.
 */
export async function closeWithin(sessions: SessionkeeperCore): Promise<void> {
  const { logger } = sessions;
  const { down } = sessions.store;
  const withinMs = down ? CLOSE_DOWN_STORE_WITHIN_MS : CLOSE_WITHIN_MS;
  const closed = sessions.close().then(
    () => true,
    (err: unknown) => {
      logger.warn({ err }, 'closing the session store failed');
      return true;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, withinMs, false);
  });
  // Expected of a store that is down, whose failure the command has already reported.
  if (!(await Promise.race([closed, gaveUp]))) logger[down ? 'debug' : 'warn'](`the session store did not close within ${withinMs} ms`);
  clearTimeout(timer);
}
