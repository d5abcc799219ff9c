/**
 * Appends recorded events to the shared log in the background, so a request
 * never waits on it and never fails because of it: events queue in memory and
 * go out in batches, one append at a time, in the order they were recorded.
 *
 * When the log does not take a batch (the store is down, or refuses), the
 * batch is dropped, not retried, with whatever queued behind it: its events are
 * already in the JSON log lines, and a retry would hold memory for as long as
 * the outage lasts. Each drop is
 * counted, and the outage is logged twice only: when it starts, and when the
 * log takes events again (with how many were lost meanwhile). The queue is
 * bounded too: while an append hangs, the oldest waiting events are dropped.
 */
import type { LifecycleEvent } from '../events.ts';
import type { Logger } from '../logger.ts';
import { within } from '../time-limit.ts';
import type { EventLog } from './event-log.ts';

export interface EventRecorderOptions {
  /** Bound on one append (ms): a store that hangs costs at most this per batch. */
  appendTimeoutMs?: number;
  /** Events waiting at most; beyond it the oldest are dropped. */
  maxQueued?: number;
  /** Events per append. */
  batchSize?: number;
  /** Told of every event that will never reach the log (metrics). */
  onDropped?: (count: number) => void;
  /**
   * How long the first event of a batch waits for others (ms): under load one append then carries the
   * events of many requests, so recording costs each request a share of one store call, not one of its own.
   */
  flushDelayMs?: number;
}

const DEFAULT_APPEND_TIMEOUT_MS = 3_000;
const DEFAULT_MAX_QUEUED = 10_000;
const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_FLUSH_DELAY_MS = 20;

export class EventRecorder {
  readonly #queue: LifecycleEvent[] = [];
  readonly #appendTimeoutMs: number;
  readonly #maxQueued: number;
  readonly #batchSize: number;
  readonly #onDropped: (count: number) => void;
  readonly #flushDelayMs: number;
  /** The wait before the next flush, while one is scheduled. */
  #flushTimer: NodeJS.Timeout | undefined;
  /** The flush loop while it runs: one append at a time keeps this process's events in order. */
  #flushing: Promise<void> | undefined;
  /** Events lost since the current outage began; undefined while the log takes events. */
  #lostInOutage: number | undefined;
  #dropped = 0;

  constructor(private readonly log: EventLog, private readonly logger: Logger, options: EventRecorderOptions = {}) {
    this.#appendTimeoutMs = options.appendTimeoutMs ?? DEFAULT_APPEND_TIMEOUT_MS;
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.#batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.#onDropped = options.onDropped ?? (() => {});
    this.#flushDelayMs = options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS;
  }

  /** Events that never reached the log since this recorder started. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Queues one event. It is appended within `flushDelayMs` with whatever else was recorded by then (at once
   * when a batch is full), or after the append under way, which gathers the events recorded meanwhile.
   */
  add(entry: LifecycleEvent): void {
    this.#queue.push(entry);
    if (this.#queue.length > this.#maxQueued) this.#drop(this.#queue.splice(0, this.#queue.length - this.#maxQueued).length, undefined);
    if (this.#flushing) return;
    if (this.#queue.length >= this.#batchSize) this.#flushNow();
    else if (!this.#flushTimer) {
      this.#flushTimer = setTimeout(() => this.#flushNow(), this.#flushDelayMs);
      // Never what keeps a process alive: closing sessionkeeper flushes (flushed()) without waiting for it.
      this.#flushTimer.unref();
    }
  }

  /** Appends what is queued now, without the delay, and resolves once every event queued so far is appended or dropped. */
  async flushed(): Promise<void> {
    if (this.#queue.length > 0) this.#flushNow();
    while (this.#flushing) await this.#flushing;
  }

  #flushNow(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#flushing ??= this.#flush();
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#batchSize);
        try {
          await within(this.log.append(batch), this.#appendTimeoutMs);
          this.#recovered();
        } catch (err) {
          // What waits behind a failed batch is dropped with it: one attempt per burst during an outage,
          // so a store that hangs costs one timeout, and closing waits for one at most.
          this.#drop(batch.length + this.#queue.splice(0).length, err);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  #drop(count: number, err: unknown): void {
    this.#dropped += count;
    this.#onDropped(count);
    if (this.#lostInOutage === undefined) {
      this.#lostInOutage = 0;
      this.logger.error({ err, dropped: count }, 'shared event log unavailable: lifecycle events are logged here but not stored until it answers');
    }
    this.#lostInOutage += count;
  }

  #recovered(): void {
    if (this.#lostInOutage === undefined) return;
    this.logger.info({ dropped: this.#lostInOutage }, 'shared event log answering again; events recorded meanwhile were not stored');
    this.#lostInOutage = undefined;
  }
}
