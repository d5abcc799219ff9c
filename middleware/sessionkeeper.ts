import type Koa from 'koa';
import createSession from 'koa-session';
import { resolveConfig, type SessionkeeperConfig, type SessionkeeperOptions } from './config.ts';
import { createStore } from './create-store.ts';
import { SessionEvents } from './events.ts';
import { GuardedStore, DEFAULT_STORE_TIMEOUT_MS, withStoreBudget } from './guarded-store.ts';
import { newSessionId } from './ids.ts';
import { KoaStoreAdapter } from './koa-store-adapter.ts';
import { createLogger, type Logger } from './logger.ts';
import { SecurityLog } from './security-log.ts';
import { sessionCookie } from './session-cookie.ts';
import type { SessionStore } from './store.ts';
import { Sweeper } from './sweeper.ts';

/** Extra wiring a library user may pass beside the settings. */
export interface SessionkeeperDependencies {
  /** A pino logger to use instead of one built from `logLevel`/`logFormat`. */
  logger?: Logger;
  /** A store to use instead of the one `store` names (a custom backend, or one sharing your client/pool). */
  store?: SessionStore;
  /** Bound on each store call before the request gets 503 (ms). */
  storeTimeoutMs?: number;
}

/** A running sessionkeeper: the middleware and what the dashboard and the server need. */
export interface Sessionkeeper {
  /** The Koa middleware: `app.use(sessions.middleware)`. */
  middleware: Koa.Middleware;
  /** The validated settings, defaults applied (durations in ms, sizes in bytes). */
  config: SessionkeeperConfig;
  /** The store, every call bounded in time and mapped to 503 on failure. */
  store: GuardedStore;
  /** Lifecycle events: subscribe with `sessions.events.on('session.expired', …)`. */
  events: SessionEvents;
  /** The expiry sweeper, already running on `sweepIntervalMs`: `sweepNow()` sweeps at once. */
  sweeper: Sweeper;
  /** The pino logger every line goes through: `dependencies.logger`, or one built from `logLevel` and `logFormat`. */
  logger: Logger;
  /** Security events (refused cookies and requests, admin sign-ins) as rate-limited `warn` lines. */
  securityLog: SecurityLog;
  /**
   * A store on the same backend and connection for records that are not visitor sessions (the dashboard's
   * sign-ins and failure counters), kept apart under `name`, guarded like `store` and swept with it.
   * Never listed or counted as sessions; the same name gives the same store.
   */
  namespace(name: string): GuardedStore;
  /** Stops the sweeper and closes the store (only what sessionkeeper opened). */
  close(): Promise<void>;
}

/**
 * Builds the session middleware for a Koa app: configures signed cookies on
 * `app.keys`, opens and initialises the store (a store that does not answer
 * yet is logged, not fatal: requests get 503 until it does), and starts the
 * sweeper.
 */
export async function createSessionkeeper(
  app: Koa,
  options: SessionkeeperOptions | SessionkeeperConfig = {},
  dependencies: SessionkeeperDependencies = {},
): Promise<Sessionkeeper> {
  const config = 'keysGenerated' in options ? options : resolveConfig(options);
  const logger = dependencies.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  if (config.keysGenerated) {
    logger.warn('SESSION_KEYS is not set: signing cookies with a random key, so sessions end when the process restarts. Set SESSION_KEYS in production.');
  }
  if (config.production && !app.proxy) {
    logger.warn('NODE_ENV=production: session cookies are Secure, so requests must arrive over HTTPS. Behind a TLS proxy set app.proxy = true (the reference server: TRUST_PROXY=true) before creating sessionkeeper, or a plain-HTTP request that stores a session fails.');
  }
  const inner = dependencies.store ?? createStore(config, (err) => logger.debug({ err, store: config.store }, 'session store connection error'));
  const store = new GuardedStore(inner, logger, dependencies.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS);
  // Lifecycle lines hold only fields sessionkeeper sets (event, public ids, store, time): nothing to redact,
  // and skipping the redaction pass halves the cost of the line every new session logs.
  const events = new SessionEvents(logger.child({}, { redact: [] }), store.kind);
  const securityLog = new SecurityLog(logger);
  await store.init().catch(() => undefined); // logged by the guard; the store retries on use

  // Whether to trust X-Forwarded-* is the app's decision (`app.proxy`): sessionkeeper follows it for Secure cookies and client addresses.
  app.keys = config.keys;
  const sessionMiddleware = createSession(
    {
      key: config.cookieName,
      // 'session': the cookie ends with the browser; the server-side TTL still applies.
      maxAge: config.cookieType === 'browser' ? 'session' : config.idleTtlMs,
      rolling: true,
      renew: false,
      httpOnly: true,
      signed: true,
      sameSite: 'lax',
      secure: config.production,
      genid: newSessionId,
      externalKey: sessionCookie(config, securityLog),
      store: new KoaStoreAdapter(store, events, config, config.maxSessionBytes),
    },
    app,
  ) as Koa.Middleware;
  // Every store call of one request (read, write, regenerate) shares one time budget: a 503 within 5 s.
  const middleware: Koa.Middleware = (ctx, next) => withStoreBudget(() => sessionMiddleware(ctx, next));

  const sweeper = new Sweeper(store, events, logger, config);
  sweeper.start();
  const namespaces = new Map<string, GuardedStore>();
  return {
    middleware,
    config,
    store,
    events,
    sweeper,
    logger,
    securityLog,
    namespace(name) {
      let namespaced = namespaces.get(name);
      if (!namespaced) {
        namespaced = store.withNamespace(name);
        namespaces.set(name, namespaced);
        sweeper.alsoPurge(namespaced);
      }
      return namespaced;
    },
    async close() {
      await sweeper.stop();
      await store.close();
    },
  };
}
