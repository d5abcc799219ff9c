/**
 * sessionkeeper's Prometheus metrics (the README's "Metrics"), with prom-client:
 * lifecycle counters fed by the events, the live-session gauge read from the
 * store when scraped, store-call and sweep timings, and dropped events.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConfigError } from './settings.ts';
import type { DestroyedBy, LifecycleEvent, SessionEvents } from './events.ts';

export interface SessionMetricsOptions {
  /** The registry to register on (an app's own); default: a new one, never prom-client's global registry. */
  registry?: Registry;
  /** The lifecycle events the counters follow. */
  events: SessionEvents;
  /** Counts the live sessions; through the guarded store, so a failure counts in `sessionkeeper_store_errors_total`. */
  countLive: () => Promise<number>;
  /** How long one live count serves scrapes (ms): a scrape reads the store at most this often. Default 5000. */
  liveCacheMs?: number;
}

const DEFAULT_LIVE_CACHE_MS = 5_000;

/** 0.1 ms (a Redis call on loopback) to 5 s (past the store timeout: only failures take that long). */
const STORE_CALL_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** A sweep is many batched calls: 5 ms (nothing to do) to a minute (a large backlog). */
const SWEEP_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const NAMES = {
  created: 'sessionkeeper_sessions_created_total',
  destroyed: 'sessionkeeper_sessions_destroyed_total',
  expired: 'sessionkeeper_sessions_expired_total',
  evicted: 'sessionkeeper_sessions_evicted_total',
  regenerated: 'sessionkeeper_sessions_regenerated_total',
  moved: 'sessionkeeper_sessions_moved_total',
  live: 'sessionkeeper_sessions_live',
  storeCallSeconds: 'sessionkeeper_store_operation_duration_seconds',
  storeErrors: 'sessionkeeper_store_errors_total',
  sweepSeconds: 'sessionkeeper_sweep_duration_seconds',
  eventsDropped: 'sessionkeeper_events_dropped_total',
} as const;

/** The timing and error series of one store operation, made once and reused on every call. */
interface OperationSeries {
  duration: { observe(seconds: number): void };
  errors: { inc(): void };
}

/**
 * Registers sessionkeeper's metrics on one registry and keeps them current.
 * Counters count what this process recorded: sum them over processes.
 */
export class SessionMetrics {
  /** The registry holding the metrics: the one passed in, or one of this instance's own. */
  readonly registry: Registry;
  readonly #events: SessionEvents;
  readonly #countLive: () => Promise<number>;
  readonly #liveCacheMs: number;
  /** The counter of each event that counts one session (session.destroyed and sessions.purged go by `by`). */
  readonly #counterOf: ReadonlyMap<string, Counter>;
  readonly #destroyedBy: Record<DestroyedBy, Counter.Internal>;
  readonly #live: Gauge;
  readonly #storeCallSeconds: Histogram<'operation'>;
  readonly #storeErrors: Counter<'operation'>;
  readonly #sweepSeconds: Histogram;
  readonly #eventsDropped: Counter;
  readonly #operations = new Map<string, OperationSeries>();
  /** When the live count was last asked for (performance.now()), and that reading. */
  #liveReadAt = Number.NEGATIVE_INFINITY;
  #liveReading: Promise<void> = Promise.resolve();

  /**
   * @throws ConfigError when the registry already holds a metric of one of these names (a second
   *   sessionkeeper on the same registry): each sessionkeeper needs a registry of its own.
   */
  constructor(options: SessionMetricsOptions) {
    const registry = options.registry ?? new Registry();
    assertNamesFree(registry);
    this.registry = registry;
    this.#events = options.events;
    this.#countLive = options.countLive;
    this.#liveCacheMs = options.liveCacheMs ?? DEFAULT_LIVE_CACHE_MS;
    const registers = [registry];

    const created = new Counter({ name: NAMES.created, help: 'Sessions started (a visitor\'s first stored session data).', registers });
    const destroyed = new Counter({
      name: NAMES.destroyed,
      help:
        'Sessions ended before they expired, by who ended them: user (the visitor, as by signing out), admin (an operator; ' +
        'ending every session counts each session it removed, expired ones not yet swept included), app (the application\'s code).',
      labelNames: ['by'],
      registers,
    });
    this.#destroyedBy = { user: destroyed.labels('user'), admin: destroyed.labels('admin'), app: destroyed.labels('app') };
    for (const by of ['user', 'admin', 'app'] as const) destroyed.inc({ by }, 0); // every series from the start, for rate()
    const expired = new Counter({
      name: NAMES.expired,
      help: 'Expired sessions removed by the sweeper, on its interval or when an operator purges expired sessions (each once, by the process that removed it).',
      registers,
    });
    const evicted = new Counter({ name: NAMES.evicted, help: 'Live sessions removed to keep the number under SESSION_MAX_COUNT, those nearest to expiry first.', registers });
    const regenerated = new Counter({ name: NAMES.regenerated, help: 'Sessions given a new id with their data kept (as after a sign-in).', registers });
    const moved = new Counter({ name: NAMES.moved, help: 'Sessions moved from SESSION_STORE_PREVIOUS to SESSION_STORE during a backend switch.', registers });
    // Names as strings, not the event type: 'session.moved' is counted as soon as something records it.
    this.#counterOf = new Map([
      ['session.created', created], ['session.expired', expired], ['session.evicted', evicted],
      ['session.regenerated', regenerated], ['session.moved', moved],
    ]);

    this.#live = new Gauge({
      name: NAMES.live,
      help: `Sessions not yet expired in the store, read at most every ${this.#liveCacheMs / 1000} s; absent until the store first answers, then its last answer while it does not.`,
      registers,
      collect: () => this.#refreshLive(),
    });
    this.#live.remove(); // no sample until the store has answered: 0 would read as "no sessions"

    this.#storeCallSeconds = new Histogram({
      name: NAMES.storeCallSeconds,
      help: 'Time of each session store call, failed ones included, by operation (get, getAndRoll, create, update, destroy, list, count, …).',
      labelNames: ['operation'],
      buckets: STORE_CALL_BUCKETS_S,
      registers,
    });
    this.#storeErrors = new Counter({
      name: NAMES.storeErrors,
      help: 'Session store calls that failed or did not answer in time, by operation: requests that needed them got 503.',
      labelNames: ['operation'],
      registers,
    });
    this.#sweepSeconds = new Histogram({
      name: NAMES.sweepSeconds,
      help: 'Time of each expiry sweep (expired sessions, the SESSION_MAX_COUNT cap, the event log\'s retention), failed ones included.',
      buckets: SWEEP_BUCKETS_S,
      registers,
    });
    this.#eventsDropped = new Counter({
      name: NAMES.eventsDropped,
      help: 'Lifecycle events logged but never stored in the shared event log (it was down or too slow): the dashboard\'s feed and counters miss them.',
      registers,
    });

    this.#events.on('event', this.#onEvent);
  }

  /** One store call ended: runs on every request, so it only looks up series made once per operation. */
  observeStoreCall(operation: string, seconds: number, failed: boolean): void {
    let series = this.#operations.get(operation);
    if (!series) {
      series = { duration: this.#storeCallSeconds.labels(operation), errors: this.#storeErrors.labels(operation) };
      this.#storeErrors.inc({ operation }, 0); // the error series exists at 0 once the operation is used
      this.#operations.set(operation, series);
    }
    series.duration.observe(seconds);
    if (failed) series.errors.inc();
  }

  /** One sweep ended, successful or not. */
  observeSweep(seconds: number): void {
    this.#sweepSeconds.observe(seconds);
  }

  /** Events that will never reach the shared event log. */
  countDroppedEvents(count: number): void {
    this.#eventsDropped.inc(count);
  }

  /** Stops following the events; the metrics stay registered (and keep their values). */
  close(): void {
    this.#events.off('event', this.#onEvent);
  }

  readonly #onEvent = (entry: LifecycleEvent): void => {
    if (entry.event === 'session.destroyed') {
      this.#destroyedBy[entry.by ?? 'app'].inc();
    } else if (entry.event === 'sessions.purged') {
      // Ending every session is one event with a count. A purge of expired sessions adds nothing here:
      // its sweep already recorded one session.expired per session.
      if (entry.scope === 'all') this.#destroyedBy.admin.inc(entry.count ?? 0);
    } else {
      this.#counterOf.get(entry.event)?.inc();
    }
  };

  /** The gauge's collect: one store count per `liveCacheMs` at most, shared by scrapes meanwhile; a failure keeps the last value. */
  #refreshLive(): Promise<void> {
    const now = performance.now();
    if (now - this.#liveReadAt >= this.#liveCacheMs) {
      this.#liveReadAt = now;
      this.#liveReading = Promise.resolve().then(this.#countLive).then(
        (live) => this.#live.set(live),
        () => undefined, // never fails the scrape; the failed call is in sessionkeeper_store_errors_total
      );
    }
    return this.#liveReading;
  }
}

/** Fails before registering anything, so a refused registry is left as it was. */
function assertNamesFree(registry: Registry): void {
  const taken = Object.values(NAMES).find((name) => registry.getSingleMetric(name));
  if (!taken) return;
  throw new ConfigError(
    'metricsRegistry',
    `metricsRegistry already holds ${taken}: it has sessionkeeper's metrics already (a second sessionkeeper on the same registry?). ` +
      'Give each sessionkeeper a registry of its own (the default when metricsRegistry is left out), served apart.',
  );
}
