import { setImmediate as yieldToRequests } from 'node:timers/promises';
import type { SessionEvents } from './events.ts';
import type { Logger } from './logger.ts';
import type { SessionStore } from './store.ts';

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
  sweepNow(): Promise<SweepReport> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(): Promise<SweepReport> {
    const expired = await this.#drain(() => this.store.purgeExpired(Date.now(), this.#batchSize), 'session.expired');
    const evicted =
      this.options.maxCount > 0
        ? await this.#drain(() => this.store.evictBeyond(this.options.maxCount, Date.now(), this.#batchSize), 'session.evicted')
        : 0;
    for (const store of this.#quietStores) await this.#drain(() => store.purgeExpired(Date.now(), this.#batchSize));
    return { expired, evicted };
  }

  /** Calls `removeBatch` until it returns a short batch, logging each removed session as `event` (when given). */
  async #drain(removeBatch: () => Promise<string[]>, event?: 'session.expired' | 'session.evicted'): Promise<number> {
    let total = 0;
    for (;;) {
      const ids = await removeBatch();
      if (event) for (const sid of ids) this.events.record(event, { sid });
      total += ids.length;
      if (ids.length < this.#batchSize) return total;
      await yieldToRequests(); // let requests run between batches
    }
  }
}
