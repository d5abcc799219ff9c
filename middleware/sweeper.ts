import { setImmediate as yieldToRequests } from 'node:timers/promises';
import type { EventLog } from './event-log/event-log.ts';
import type { SessionEvents } from './events.ts';
import type { Logger } from './logger.ts';
import type { RemovedSession, SessionStore, StoreKind } from './store.ts';

/** What one sweep removed. */
export interface SweepReport {
  /** Expired sessions removed, each logged as `session.expired`. */
  expired: number;
  /** Live sessions removed to bring the count down to `maxCount`, each logged as `session.evicted`. */
  evicted: number;
}

export interface SweeperOptions {
  sweepIntervalMs: number;
  /** Cap on live sessions; 0 = none. */
  maxCount: number;
  /** Sessions removed per store call: bounds each call's time and memory. */
  batchSize?: number;
  /** The shared event log, trimmed to `eventsRetentionMs` on every sweep. */
  eventLog?: EventLog;
  /** How long the shared event log keeps events. */
  eventsRetentionMs?: number;
  /** Told how long each sweep took (s), whether it succeeded or not (metrics). */
  onSweep?: (seconds: number) => void;
}

/** What `sweepNow` may be told besides. */
export interface SweepNowOptions {
  /**
   * Told the running totals after each batch removed, for a progress line during a long purge. Only the
   * call that starts a sweep is told: a call that joins the sweep already running is not.
   */
  onProgress?: (soFar: SweepReport) => void;
}

const DEFAULT_BATCH_SIZE = 500;

/**
 * Removes expired sessions from the store on an interval, in bounded batches,
 * and logs each one exactly once (the store's purge is atomic per session, so
 * this holds with several processes sweeping one store). Also enforces the
 * session cap by evicting the sessions nearest to expiry.
 */
export class Sweeper {
  readonly #batchSize: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<SweepReport> | undefined;
  /** Stores of other records (namespaces) whose lapsed records each sweep removes without lifecycle events. */
  readonly #quietStores: SessionStore[] = [];
  /** The previous store of a backend switch, whose expired sessions each sweep also removes and logs. */
  #previousStore: SessionStore | undefined;

  constructor(
    private readonly store: SessionStore,
    private readonly events: SessionEvents,
    private readonly logger: Logger,
    private readonly options: SweeperOptions,
  ) {
    this.#batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  }

  /** Starts sweeping every `sweepIntervalMs`; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.sweepNow().catch((err) => this.logger.debug({ err }, 'sweep skipped: store unavailable'));
    }, this.options.sweepIntervalMs);
    this.#timer.unref();
  }

  /** Also removes the lapsed records of `store` on every sweep (a namespace: they are not sessions, so nothing is logged). */
  alsoPurge(store: SessionStore): void {
    this.#quietStores.push(store);
  }

  /**
   * Also removes the expired sessions of the store sessions are moving away from, on every sweep, each logged
   * as `session.expired` of that store (`store`: its kind). Expiry there is not the cap's business.
   */
  alsoSweepPrevious(store: SessionStore): void {
    this.#previousStore = store;
  }

  /** Stops the interval and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /**
   * Sweeps now: every expired session, then the cap. A call while a sweep runs
   * waits for that sweep instead of starting a second one.
   */
  sweepNow(options: SweepNowOptions = {}): Promise<SweepReport> {
    this.#running ??= this.#sweep(options.onProgress).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(onProgress?: (soFar: SweepReport) => void): Promise<SweepReport> {
    const started = performance.now();
    try {
      return await this.#sweepStore(onProgress);
    } finally {
      this.options.onSweep?.((performance.now() - started) / 1000);
    }
  }

  async #sweepStore(onProgress?: (soFar: SweepReport) => void): Promise<SweepReport> {
    let expired = await this.#drain(() => this.store.purgeExpired(Date.now(), this.#batchSize), 'session.expired', (total) =>
      onProgress?.({ expired: total, evicted: 0 }),
    );
    expired += await this.#sweepPrevious((total) => onProgress?.({ expired: expired + total, evicted: 0 }));
    const evicted =
      this.options.maxCount > 0
        ? await this.#drain(() => this.store.evictBeyond(this.options.maxCount, Date.now(), this.#batchSize), 'session.evicted', (total) =>
            onProgress?.({ expired, evicted: total }),
          )
        : 0;
    for (const store of this.#quietStores) await this.#drain(() => store.purgeExpired(Date.now(), this.#batchSize));
    await this.#trimEventLog();
    return { expired, evicted };
  }

  /** Sweeps only the previous store of a backend switch, now (`sessionkeeper migrate` ends with it); 0 without one. */
  sweepPreviousNow(): Promise<number> {
    return this.#sweepPrevious(() => undefined);
  }

  /** The previous store's expired sessions; a previous store that fails is its guard's to log, and the current store's sweep goes on. */
  async #sweepPrevious(onBatch: (total: number) => void): Promise<number> {
    const previous = this.#previousStore;
    if (!previous) return 0;
    const removeBatch = () => previous.purgeExpired(Date.now(), this.#batchSize);
    return this.#drain(removeBatch, 'session.expired', onBatch, previous.kind).catch((err) => {
      this.logger.debug({ err, store: previous.kind }, 'previous store not swept: unavailable');
      return 0;
    });
  }

  /** The log's bound: a failure is logged and left to the next sweep; the sessions' sweep already happened. */
  async #trimEventLog(): Promise<void> {
    const { eventLog, eventsRetentionMs } = this.options;
    if (!eventLog || !eventsRetentionMs) return;
    const now = Date.now();
    await eventLog.trim(now - eventsRetentionMs, now).catch((err) => this.logger.warn({ err }, 'could not trim the shared event log; the next sweep tries again'));
  }

  /**
   * Calls `removeBatch` until it returns a short batch, logging each removed session as `event` (when given,
   * of `storeKind` when given) and telling `onBatch` the total removed so far.
   */
  async #drain(
    removeBatch: () => Promise<RemovedSession[]>,
    event?: 'session.expired' | 'session.evicted',
    onBatch?: (total: number) => void,
    storeKind?: StoreKind,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const removed = await removeBatch();
      if (event) for (const { id: sid, owner } of removed) this.events.record(event, { sid, ...(owner === undefined ? {} : { owner }), ...(storeKind ? { store: storeKind } : {}) });
      total += removed.length;
      if (removed.length > 0) onBatch?.(total);
      if (removed.length < this.#batchSize) return total;
      await yieldToRequests(); // let requests run between batches
    }
  }
}
