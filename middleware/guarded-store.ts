import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger.ts';
import {
  StoreUnavailableError, wasRolledAt,
  type CounterRule, type CounterState, type ListOptions, type RemovedSession, type Rolling, type SessionPage, type SessionRecord, type SessionStore, type StoreKind,
} from './store.ts';
import { InvalidCursorError } from './cursor.ts';
import { within } from './time-limit.ts';

/** Default bound on one store call: well under the 5 s within which a request the store cannot serve gets its 503. */
export const DEFAULT_STORE_TIMEOUT_MS = 3000;

/** What one request may spend waiting on the store in all, so its 503 comes within 5 s (the README's "When the store fails"). */
export const REQUEST_STORE_BUDGET_MS = 4500;

/**
 * The store time one request has left, shared by every guarded call it makes through one `withBudget` view,
 * however many: a request that reads, then writes, then regenerates still gets its 503 within the budget.
 * Carried explicitly (on the request's state), not in AsyncLocalStorage, whose promise hooks would cost
 * every promise of the process (~15 µs a request: bench/README.md).
 */
export class StoreBudget {
  constructor(public remainingMs = REQUEST_STORE_BUDGET_MS) {}
}

/** The budget of code that cannot carry one explicitly (the dashboard's pages), while such code runs. */
const ambientBudget = new AsyncLocalStorage<StoreBudget>();
/** Calls of `withStoreBudget` running now: the last one to end turns AsyncLocalStorage's hooks off again. */
let ambientCallers = 0;

/**
 * Runs `serve` with a store-time budget shared by every guarded call it makes through any store, for code
 * that reaches the store from many places and cannot pass a `withBudget` view around (the dashboard). It
 * uses AsyncLocalStorage, whose promise hooks cost every promise in the process while enabled, so they are
 * disabled again as soon as no such call runs: session requests, which carry their budget on the request,
 * never pay for them outside the moments a dashboard page is being served. A nested call keeps the outer budget.
 */
export async function withStoreBudget<T>(serve: () => Promise<T>, budgetMs = REQUEST_STORE_BUDGET_MS): Promise<T> {
  if (ambientBudget.getStore()) return serve();
  ambientCallers += 1;
  try {
    return await ambientBudget.run(new StoreBudget(budgetMs), serve);
  } finally {
    ambientCallers -= 1;
    if (ambientCallers === 0) ambientBudget.disable();
  }
}

/**
 * The store as sessionkeeper's request path, dashboard and CLI use it: a GuardedStore, or during a backend
 * switch a SwitchingStore over two of them. Every call is bounded in time and fails as StoreUnavailableError.
 */
export interface GuardedSessionStore extends SessionStore {
  /** The unguarded store underneath (during a switch, the current store's). */
  readonly inner: SessionStore;
  /** True while the store (either store, during a switch) is failing. */
  readonly down: boolean;
  /** This store for one request: every call spends from `budget`. */
  withBudget(budget: StoreBudget): GuardedSessionStore;
  /**
   * `create`, and with `onLateEvictions`, told what a capped creation evicted when the guard gave up on it
   * (it timed out) but the store went on to finish: those evictions still get their events.
   */
  create(id: string, record: SessionRecord, maxPerOwner?: number, onLateEvictions?: (evicted: RemovedSession[]) => void): Promise<RemovedSession[]>;
  /** Records that are not sessions (the dashboard's sign-ins), kept in the (current) store under `name`. */
  withNamespace(name: string): GuardedStore;
}

/** Told of every store call as it ends: what it was, how long it took (s), and whether it failed (metrics). */
export type StoreCallObserver = (operation: string, seconds: number, failed: boolean) => void;

/** Calls that only read. A store can refuse writes while it still reads (a full or read-only disk). */
const READ_OPERATIONS = new Set(['get', 'list', 'count', 'ping']);

/**
 * Wraps a store so that every call is bounded in time and every failure
 * becomes a StoreUnavailableError (503). The cause is logged once when the
 * store stops answering and once when it answers again, not on every request.
 * Reads and writes recover apart: a store that reads but refuses writes is
 * still failing, so a request that reads and then writes does not log twice.
 * A namespace of the store shares its state: one backend, one outage, one line.
 * Its methods keep the SessionStore contract.
 */
export class GuardedStore implements GuardedSessionStore {
  readonly kind: StoreKind;
  readonly location: string;
  /** The kinds of call ('read', 'write') whose last attempt failed, shared with the store's namespaces. */
  readonly #failing: Set<'read' | 'write'>;
  /** The request's budget every call of this view spends from; undefined: each call has its own bound only. */
  readonly #budget: StoreBudget | undefined;

  /**
   * @param inner the store to guard.
   * @param logger where outages and recoveries are logged.
   * @param timeoutMs the bound on one call.
   * @param failing what a parent guard shares with its namespaces (omit it).
   * @param observe told of every call (metrics); a namespace's calls too.
   * @param budget what a `withBudget` view spends from (omit it).
   */
  constructor(
    readonly inner: SessionStore,
    private readonly logger: Logger,
    private readonly timeoutMs = DEFAULT_STORE_TIMEOUT_MS,
    failing = new Set<'read' | 'write'>(),
    private readonly observe: StoreCallObserver = () => {},
    budget?: StoreBudget,
  ) {
    this.kind = inner.kind;
    this.location = inner.location;
    this.#failing = failing;
    this.#budget = budget;
  }

  /** This store for one request: the same guard (outage state, log lines, metrics), every call spending from `budget`. */
  withBudget(budget: StoreBudget): GuardedStore {
    return new GuardedStore(this.inner, this.logger, this.timeoutMs, this.#failing, this.observe, budget);
  }

  /** True while the last read or the last write failed. */
  get down(): boolean {
    return this.#failing.size > 0;
  }

  init(): Promise<void> { return this.#run('init', () => this.inner.init()); }
  /**
   * A rolling get may write as it reads, so its failures count as the store's writes failing; its success
   * counts as a write only when it rolled (the session's `lastSeenAt` is `now`): a read inside
   * SESSION_TOUCH_AFTER that succeeds on a store refusing writes is no recovery.
   */
  get(id: string, now: number, roll?: Rolling): Promise<SessionRecord | undefined> {
    if (!roll) return this.#run('get', () => this.inner.get(id, now));
    return this.#run('getAndRoll', () => this.inner.get(id, now, roll), {
      succeededAs: (record) => (wasRolledAt(record, now) ? 'write' : 'read'),
    });
  }
  async create(id: string, record: SessionRecord, maxPerOwner?: number, onLateEvictions?: (evicted: RemovedSession[]) => void): Promise<RemovedSession[]> {
    let pending: Promise<RemovedSession[]> | undefined;
    try {
      return await this.#run('create', () => (pending = this.inner.create(id, record, maxPerOwner)));
    } catch (err) {
      // A capped creation that lands after its request timed out has evicted sessions all the same (waiting
      // on the owner's lock, say): they are reported, so that none ends without its event.
      if (onLateEvictions && pending) pending.then((evicted) => evicted.length > 0 && onLateEvictions(evicted), () => undefined);
      throw err;
    }
  }
  /**
   * `onLate` is told the outcome of an insert the guard gave up on (it timed out) but that the store went on
   * to finish: a copy made after its caller stopped waiting is not left unaccounted for (see `session-move.ts`).
   */
  async insert(id: string, record: SessionRecord, onLate?: (inserted: boolean) => void): Promise<boolean> {
    let pending: Promise<boolean> | undefined;
    try {
      return await this.#run('insert', () => (pending = this.inner.insert(id, record)));
    } catch (err) {
      if (onLate && pending) pending.then(onLate, () => undefined);
      throw err;
    }
  }
  update(id: string, record: SessionRecord, now: number): Promise<boolean> { return this.#run('update', () => this.inner.update(id, record, now)); }
  destroy(id: string): Promise<boolean> { return this.#run('destroy', () => this.inner.destroy(id)); }
  list(options: ListOptions): Promise<SessionPage> { return this.#run('list', () => this.inner.list(options)); }
  count(now: number): Promise<number> { return this.#run('count', () => this.inner.count(now)); }
  /**
   * Not bounded in time: the store removes the sessions whether or not we wait, and the sweeper must
   * log each id it returns, so a late answer is never dropped. Each call is a bounded batch.
   */
  purgeExpired(now: number, batchSize: number): Promise<RemovedSession[]> {
    return this.#run('purgeExpired', () => this.inner.purgeExpired(now, batchSize), { bounded: false });
  }
  /** Not bounded in time, for the same reason as `purgeExpired`. */
  evictBeyond(maxCount: number, now: number, batchSize: number): Promise<RemovedSession[]> {
    return this.#run('evictBeyond', () => this.inner.evictBeyond(maxCount, now, batchSize), { bounded: false });
  }
  /** Not bounded in time, for the same reason as `purgeExpired`: each ended id gets its event, however late. */
  endOwnerSessions(owner: string, now: number, except: readonly string[]): Promise<string[]> {
    return this.#run('endOwnerSessions', () => this.inner.endOwnerSessions(owner, now, except), { bounded: false });
  }
  destroyAll(): Promise<number> { return this.#run('destroyAll', () => this.inner.destroyAll()); }
  increment(id: string, now: number, rule: CounterRule): Promise<CounterState> {
    return this.#run('increment', () => this.inner.increment(id, now, rule));
  }
  /** The namespace, guarded alike (bounded calls, 503 on failure), sharing this guard's outage state and log lines. */
  withNamespace(name: string): GuardedStore {
    return new GuardedStore(this.inner.withNamespace(name), this.logger, this.timeoutMs, this.#failing, this.observe, this.#budget);
  }
  ping(): Promise<void> { return this.#run('ping', () => this.inner.ping()); }
  /** Closing is not bounded by the guard: it must finish to release sockets. */
  close(): Promise<void> { return this.inner.close(); }

  /**
   * @param succeededAs which access a success proves working, when the result tells (default: the operation's).
   */
  async #run<T>(
    operation: string,
    call: () => Promise<T>,
    { bounded = true, succeededAs }: { bounded?: boolean; succeededAs?: (result: T) => 'read' | 'write' } = {},
  ): Promise<T> {
    const budget = this.#budget ?? ambientBudget.getStore();
    const limitMs = Math.max(0, Math.min(this.timeoutMs, budget?.remainingMs ?? Number.POSITIVE_INFINITY));
    const started = performance.now();
    let failed = false;
    try {
      const result = await (bounded ? within(call(), limitMs) : call());
      this.#markUp(succeededAs ? succeededAs(result) : accessOf(operation));
      return result;
    } catch (cause) {
      // A bad cursor is the caller's mistake, not the store's.
      if (cause instanceof InvalidCursorError) throw cause;
      failed = true;
      this.#markDown(operation, cause);
      throw new StoreUnavailableError(this.kind, `The ${this.kind} session store is not answering.`, { cause });
    } finally {
      const elapsedMs = performance.now() - started;
      if (budget) budget.remainingMs -= elapsedMs;
      this.observe(operation, elapsedMs / 1000, failed);
    }
  }

  #markDown(operation: string, cause: unknown): void {
    const wasUp = this.#failing.size === 0;
    this.#failing.add(accessOf(operation));
    if (!wasUp) return;
    this.logger.error({ store: this.kind, location: this.location, operation, err: cause }, 'session store unavailable');
  }

  #markUp(access: 'read' | 'write'): void {
    if (!this.#failing.delete(access) || this.#failing.size > 0) return;
    this.logger.info({ store: this.kind, location: this.location }, 'session store answering again');
  }
}

function accessOf(operation: string): 'read' | 'write' {
  return READ_OPERATIONS.has(operation) ? 'read' : 'write';
}
