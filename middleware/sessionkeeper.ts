import type Koa from 'koa';
import createSession from 'koa-session';
import { currentConnectionOf, previousConnectionOf, resolveConfig, type SessionkeeperConfig, type SessionkeeperOptions } from './config.ts';
import { createStore } from './create-store.ts';
import type { Registry } from 'prom-client';
import type { EventLog } from './event-log/event-log.ts';
import { EventRecorder } from './event-log/event-recorder.ts';
import { GuardedEventLog } from './event-log/guarded-event-log.ts';
import { MemoryEventLog } from './event-log/memory-event-log.ts';
import { SessionEvents } from './events.ts';
import { GuardedStore, DEFAULT_STORE_TIMEOUT_MS, type GuardedSessionStore, type StoreCallObserver } from './guarded-store.ts';
import { newSessionId } from './ids.ts';
import { beginRequestSession, KoaStoreAdapter } from './koa-store-adapter.ts';
import { createLogger, type Logger } from './logger.ts';
import { SessionMetrics } from './metrics.ts';
import { ownerSessions, type OwnerSessions } from './owner-sessions.ts';
import { SecurityLog } from './security-log.ts';
import { sessionCookie } from './session-cookie.ts';
import type { SessionStore } from './store.ts';
import { Sweeper } from './sweeper.ts';
import { SwitchingStore } from './switching-store.ts';

/** Extra wiring a library user may pass beside the settings. */
export interface SessionkeeperDependencies {
  /** A pino logger to use instead of one built from `logLevel`/`logFormat`. */
  logger?: Logger;
  /** A store to use instead of the one `store` names (a custom backend, or one sharing your client/pool). */
  store?: SessionStore;
  /** During a backend switch, a store to use instead of the one `previousStore` names. */
  previousStore?: SessionStore;
  /** Bound on each store call before the request gets 503 (ms). */
  storeTimeoutMs?: number;
  /**
   * A prom-client registry to register sessionkeeper's metrics on (an app that already serves `/metrics`);
   * by default they get a registry of their own, which the dashboard serves at `<admin path>/metrics`.
   */
  metricsRegistry?: Registry;
}

/**
 * The sessions without a Koa app: the store, its events and event log, the
 * sweeper and the metrics. What the dashboard and the operator CLI work on.
 */
export interface SessionkeeperCore extends OwnerSessions {
  /** The validated settings, defaults applied (durations in ms, sizes in bytes). */
  config: SessionkeeperConfig;
  /**
   * The store, every call bounded in time and mapped to 503 on failure. During a backend switch, a
   * SwitchingStore: sessions are read from both stores and moved to the current one.
   */
  store: GuardedSessionStore;
  /** The backend switch under way (`SESSION_STORE_PREVIOUS`), if any: its two stores and how it moves a session. */
  transition?: SwitchingStore;
  /** Lifecycle events: subscribe with `sessions.events.on('session.expired', …)`. */
  events: SessionEvents;
  /** The shared event log in the store, as every process reads it (feed, live stream, counters). */
  eventLog: GuardedEventLog;
  /** The expiry sweeper: `sweepNow()` sweeps at once. */
  sweeper: Sweeper;
  /** Prometheus metrics: `metrics.registry` holds them. */
  metrics: SessionMetrics;
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
  /** Stops the sweeper, stores the events still queued for the shared log, and closes the store (only what sessionkeeper opened). */
  close(): Promise<void>;
}

/** A running sessionkeeper: the middleware and what the dashboard and the server need. */
export interface Sessionkeeper extends SessionkeeperCore {
  /** The Koa middleware: `app.use(sessions.middleware)`. */
  middleware: Koa.Middleware;
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
  const core = await openSessionkeeper(options, dependencies);
  const { config, logger, store, events, securityLog } = core;
  if (config.keysGenerated) {
    logger.warn('SESSION_KEYS is not set: signing cookies with a random key, so sessions end when the process restarts. Set SESSION_KEYS in production.');
  }
  if (config.production && !app.proxy) {
    logger.warn('NODE_ENV=production: session cookies are Secure, so requests must arrive over HTTPS. Behind a TLS proxy set app.proxy = true (the reference server: TRUST_PROXY=true) before creating sessionkeeper, or a plain-HTTP request that stores a session fails.');
  }

  // Whether to trust X-Forwarded-* is the app's decision (`app.proxy`): sessionkeeper follows it for Secure cookies and client addresses.
  app.keys = config.keys;
  const cookie = sessionCookie(config, securityLog);
  const sessionMiddleware = createSession(
    {
      key: config.cookieName,
      // 'session': the cookie ends with the browser; the server-side TTL still applies.
      maxAge: config.cookieType === 'browser' ? 'session' : config.idleTtlMs,
      // Not koa-session's rolling, which writes and re-sends every session on every request: the store rolls
      // a session as it reads it, when it is due (SESSION_TOUCH_AFTER), and the cookie goes out again below.
      rolling: false,
      renew: false,
      httpOnly: true,
      signed: true,
      sameSite: 'lax',
      secure: config.production,
      genid: newSessionId,
      externalKey: cookie,
      store: new KoaStoreAdapter(events, config),
    },
    app,
  ) as Koa.Middleware;
  const middleware: Koa.Middleware = async (ctx, next) => {
    // Every store call of one request (read, write, regenerate) shares one time budget: a 503 within 5 s.
    const state = beginRequestSession(ctx, store);
    await sessionMiddleware(ctx, next);
    // A read that rolled the session moved its expiry: the cookie follows, unless koa-session wrote it already.
    if (state.rolled && !state.cookieWritten && state.rawId) cookie.set(ctx, state.rawId);
  };
  core.sweeper.start();
  return { ...core, middleware };
}

/**
 * Opens the store, its shared event log, the sweeper (not started: `sweeper.start()` sweeps on the interval)
 * and the metrics, without a Koa app: for the operator CLI, the standalone dashboard and scripts. The
 * settings are the library's own; the cookie keys are not used here.
 */
export async function openSessionkeeper(
  options: SessionkeeperOptions | SessionkeeperConfig = {},
  dependencies: SessionkeeperDependencies = {},
): Promise<SessionkeeperCore> {
  const config = 'keysGenerated' in options ? options : resolveConfig(options);
  const logger = dependencies.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const timeoutMs = dependencies.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  const connectionErrors = (kind: string) => (err: Error) => logger.debug({ err, store: kind }, 'session store connection error');
  // Part of a step failed (one shard of a cluster, say) while the rest was done and reported: worth a warning.
  const stepFailures = (kind: string) => (err: Error) => logger.warn({ err, store: kind }, 'session store: part of a step failed');
  const inner = dependencies.store ?? createStore(currentConnectionOf(config), config.sweepIntervalMs, connectionErrors(config.store), stepFailures(config.store));
  const observer: StoreCallObserver = (operation, seconds, failed) => metrics.observeStoreCall(operation, seconds, failed);
  const current = new GuardedStore(inner, logger, timeoutMs, undefined, observer);
  const previousConnection = previousConnectionOf(config);
  const previousInner = previousConnection && (dependencies.previousStore ?? createStore(previousConnection, config.sweepIntervalMs, connectionErrors(previousConnection.store), stepFailures(previousConnection.store)));
  const transition = previousInner
    ? new SwitchingStore(current, new GuardedStore(previousInner, logger, timeoutMs, undefined, observer), (sid, owner) =>
        events.record('session.moved', { sid, from: previousInner.kind, to: inner.kind, ...(owner === undefined ? {} : { owner }) }),
      )
    : undefined;
  const store: GuardedSessionStore = transition ?? current;
  const eventLog = new GuardedEventLog(openEventLog(inner, config.eventsRetentionMs, logger), inner.kind, timeoutMs);
  const recorder = new EventRecorder(eventLog.inner, logger, { appendTimeoutMs: timeoutMs, onDropped: (count) => metrics.countDroppedEvents(count) });
  // Lifecycle lines hold only fields sessionkeeper sets (event, public ids, store, time): nothing to redact,
  // and skipping the redaction pass halves the cost of the line every new session logs.
  const events = new SessionEvents(logger.child({}, { redact: [] }), store.kind, recorder);
  const metrics = new SessionMetrics({ registry: dependencies.metricsRegistry, events, countLive: () => store.count(Date.now()) });
  const securityLog = new SecurityLog(logger);
  await store.init().catch(() => undefined); // logged by the guard; the store retries on use
  await eventLog.init().catch(() => undefined); // an append or a read retries it

  // During a switch its evictions also remove any copy left in the previous store (SwitchingStore.evictBeyond).
  const sweeper = new Sweeper(store, events, logger, {
    ...config,
    eventLog,
    onSweep: (seconds) => metrics.observeSweep(seconds),
  });
  if (transition) sweeper.alsoSweepPrevious(transition.previous);
  const namespaces = new Map<string, GuardedStore>();
  return {
    ...ownerSessions(store, transition, events),
    config,
    store,
    transition,
    events,
    eventLog,
    sweeper,
    metrics,
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
      await recorder.flushed();
      metrics.close();
      await store.close();
    },
  };
}

/** The store's own shared log, or one in this process's memory for a store that keeps none (with a warning: each process then tells its own story). */
function openEventLog(store: SessionStore, retentionMs: number, logger: Logger): EventLog {
  if (store.openEventLog) return store.openEventLog(retentionMs);
  logger.warn({ store: store.kind }, 'this session store keeps no shared event log: the dashboard\'s feed and counters show only what this process recorded');
  return new MemoryEventLog(retentionMs);
}
