/**
 * The store during a backend switch (`SESSION_STORE_PREVIOUS`): sessions are
 * read from the current store first and, when it does not hold them, from the
 * previous one, which moves them (`session-move.ts`); new sessions and changes
 * go to the current store only; an ending removes a session from both.
 * Listing, counting, sweeping and the cap are the current store's: the
 * previous store has its own sweeper, and `sessionkeeper migrate` empties it.
 */
import type { GuardedSessionStore, GuardedStore, StoreBudget } from './guarded-store.ts';
import { moveSession, settleDuplicate, type MoveOutcome } from './session-move.ts';
import {
  type CounterRule,
  type CounterState,
  type ListOptions,
  PartialRemovalError,
  partialRemovalOf,
  type RemovedSession,
  type Rolling,
  type SessionPage,
  type SessionRecord,
  type SessionStore,
  StoreUnavailableError,
  type StoreKind,
} from './store.ts';

/** Told of each session this store moved (to record `session.moved`). */
export type MoveRecorder = (id: string, owner: string | undefined) => void;

export class SwitchingStore implements GuardedSessionStore {
  readonly kind: StoreKind;
  readonly location: string;

  /**
   * @param current the store sessions go to, guarded.
   * @param previous the store they come from, guarded on its own: its outages are logged as its own.
   * @param recordMove told of each session a request moved.
   */
  constructor(readonly current: GuardedStore, readonly previous: GuardedStore, private readonly recordMove: MoveRecorder) {
    this.kind = current.kind;
    this.location = current.location;
  }

  /** The current store, unguarded. */
  get inner(): SessionStore {
    return this.current.inner;
  }

  get down(): boolean {
    return this.current.down || this.previous.down;
  }

  withBudget(budget: StoreBudget): SwitchingStore {
    return new SwitchingStore(this.current.withBudget(budget), this.previous.withBudget(budget), this.recordMove);
  }

  /** Both stores; one that does not answer yet is logged by its guard and retried on use. */
  async init(): Promise<void> {
    await Promise.all([this.current.init(), this.previous.init()]);
  }

  /**
   * The current store's session, or else the previous store's. A rolling read (a request's) moves a session
   * found only in the previous store, then reads it from the current one, rolling it there when it is due;
   * a plain read (the dashboard, the CLI looking) moves nothing. A previous store that does not answer fails
   * the read (503): the session may be there, and a visitor is not logged out because a store is down.
   */
  async get(id: string, now: number, roll?: Rolling): Promise<SessionRecord | undefined> {
    const record = await this.current.get(id, now, roll);
    if (record) return record;
    const left = await this.previous.get(id, now);
    if (!left) {
      // Missed in both: another process may have moved it between the two reads. Only a cookie the stores
      // do not know (an ended or long-expired session) pays for this third read.
      return this.current.get(id, now, roll);
    }
    if (!roll) return left;
    await this.move(id, left);
    return this.current.get(id, now, roll);
  }

  /** Moves one session read from the previous store (see `moveSession`). */
  move(id: string, record: SessionRecord): Promise<MoveOutcome> {
    return moveSession(this, id, record, () => this.recordMove(id, record.owner));
  }

  /** Settles a session found in both stores (see `settleDuplicate`), recording the move when this call completed it. */
  async settle(id: string, now: number): Promise<void> {
    const settled = await settleDuplicate(this, id, now);
    if (settled) this.recordMove(id, settled.owner);
  }

  /** The current store's cap per owner; what it evicts is also removed from the previous store (see `evictBeyond`). */
  async create(id: string, record: SessionRecord, maxPerOwner?: number, onLateEvictions?: (evicted: RemovedSession[]) => void): Promise<RemovedSession[]> {
    const evicted = await this.current.create(id, record, maxPerOwner, onLateEvictions);
    await this.alsoFromPrevious(evicted);
    return evicted;
  }
  insert(id: string, record: SessionRecord): Promise<boolean> { return this.current.insert(id, record); }
  /** The current store's session only: a request that loaded its session moved it there first. */
  update(id: string, record: SessionRecord, now: number): Promise<boolean> { return this.current.update(id, record, now); }

  /**
   * Removes the session from the previous store first, then from the current one: a move racing this call
   * either finds the previous copy gone (and removes its own copy again) or has moved it before this call
   * reaches the current store. Either order of arrival ends the session in both.
   */
  async destroy(id: string): Promise<boolean> {
    const fromPrevious = await this.previous.destroy(id);
    const fromCurrent = await this.current.destroy(id);
    return fromPrevious || fromCurrent;
  }

  list(options: ListOptions): Promise<SessionPage> { return this.current.list(options); }
  count(now: number): Promise<number> { return this.current.count(now); }
  purgeExpired(now: number, batchSize: number): Promise<RemovedSession[]> { return this.current.purgeExpired(now, batchSize); }
  /**
   * The current store's cap. An evicted session is also removed from the previous store, where a move cut short
   * may have left a copy that a later read would otherwise move back; the eviction stands if that store fails.
   */
  async evictBeyond(maxCount: number, now: number, batchSize: number): Promise<RemovedSession[]> {
    const evicted = await this.current.evictBeyond(maxCount, now, batchSize);
    await this.alsoFromPrevious(evicted);
    return evicted;
  }

  /**
   * The owner's sessions in both stores, the previous one first, as `destroy` does: a move racing this call
   * finds its source gone and takes its copy back, or has copied before this call reaches the current store.
   */
  async endOwnerSessions(owner: string, now: number, except: readonly string[]): Promise<string[]> {
    const fromPrevious = await this.previous.endOwnerSessions(owner, now, except);
    try {
      const fromCurrent = await this.current.endOwnerSessions(owner, now, except);
      return [...new Set([...fromPrevious, ...fromCurrent])];
    } catch (err) {
      // The previous store's endings happened: they are reported with whatever the current one managed.
      if (fromPrevious.length === 0 || !(err instanceof StoreUnavailableError)) throw err;
      const removedIds = [...new Set([...fromPrevious, ...(partialRemovalOf(err)?.removedIds ?? [])])];
      throw new StoreUnavailableError(err.storeKind, err.message, { cause: new PartialRemovalError(removedIds, err.cause) });
    }
  }

  private async alsoFromPrevious(removed: RemovedSession[]): Promise<void> {
    await Promise.all(removed.map(({ id }) => this.previous.destroy(id).catch(() => false)));
  }

  /** Every session of both stores. */
  async destroyAll(): Promise<number> {
    const fromPrevious = await this.previous.destroyAll();
    return fromPrevious + (await this.current.destroyAll());
  }

  increment(id: string, now: number, rule: CounterRule): Promise<CounterState> { return this.current.increment(id, now, rule); }
  withNamespace(name: string): GuardedStore { return this.current.withNamespace(name); }
  ping(): Promise<void> { return this.current.ping(); }

  async close(): Promise<void> {
    await Promise.all([this.current.close(), this.previous.close()]);
  }
}
