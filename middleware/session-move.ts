/**
 * How one session moves from the previous store to the current one during a
 * backend switch (`SESSION_STORE_PREVIOUS`), used alike by a request that
 * finds its session only in the previous store and by `sessionkeeper migrate`.
 *
 * Copy first, then remove:
 * 1. `insert` the record into the current store, unchanged (data, creation
 *    time, last seen, expiry), only if the current store holds nothing under
 *    its id. Of several processes moving the same session at once exactly one
 *    wins; the others find it there and use that copy.
 * 2. The winner removes the session from the previous store. When that removal
 *    succeeds, the session has moved: the winner alone records `session.moved`.
 * 3. When the previous store no longer held it, someone ended it there after
 *    step 1 read it (a logout, an operator, its sweeper): the copy is removed
 *    again, so a session ended in either store is never brought back.
 *
 * A process that dies between 1 and 2 leaves the same session in both stores.
 * The current store's copy is the one every request reads (it is read first),
 * and the next `sessionkeeper migrate` removes the previous store's copy
 * (`settleDuplicate`); the two copies never both serve requests.
 */
import type { SessionRecord, SessionStore } from './store.ts';

/** What became of a session a move was asked for. */
export type MoveOutcome =
  /** This call copied it and removed it from the previous store. */
  | 'moved'
  /** The current store held it already: another process moved it, or an earlier move was cut short. */
  | 'already-there'
  /** It was ended in the previous store while this call moved it; the copy was removed again. */
  | 'ended';

/** The store a session is copied into: an insert that can report an outcome that came after a timeout. */
export interface CopyTarget extends SessionStore {
  insert(id: string, record: SessionRecord, onLate?: (inserted: boolean) => void): Promise<boolean>;
}

/** The two stores of a backend switch. */
export interface MoveStores {
  /** `SESSION_STORE`: where sessions go. */
  current: CopyTarget;
  /** `SESSION_STORE_PREVIOUS`: where they come from. */
  previous: SessionStore;
}

/**
 * Moves one session, read from the previous store as `record`, to the current store. `onMoved` is called
 * once, by the one call that moved it (to record `session.moved`). Rejects when a store fails: the session
 * is then still only in the previous store, or in both (see the module's comment). An insert that timed
 * out but lands later is finished in the background, as if it had answered in time: its copy is kept and
 * the previous one removed, or, when the session was ended meanwhile, removed again.
 */
export async function moveSession({ current, previous }: MoveStores, id: string, record: SessionRecord, onMoved: () => void): Promise<MoveOutcome> {
  const finish = async (): Promise<MoveOutcome> => {
    if (await previous.destroy(id)) {
      onMoved();
      return 'moved';
    }
    await current.destroy(id);
    return 'ended';
  };
  const inserted = await current.insert(id, record, (late) => {
    if (late) finish().catch(() => undefined); // a store that fails now is its guard's to log; the copies are settled by migrate
  });
  return inserted ? finish() : 'already-there';
}

/**
 * Settles a session found in both stores (a move cut short by a crash, or still in flight elsewhere when
 * `migrate` met it): the current store's copy stands, the previous store's goes. Call it only once any
 * move still in flight must have finished (`migrate` waits MOVE_SETTLE_MS). Returns true when this call
 * removed the previous copy and the current copy is live, i.e. when it completed a move nobody recorded: that copy.
 */
export async function settleDuplicate({ current, previous }: MoveStores, id: string, now: number): Promise<SessionRecord | undefined> {
  if (!(await previous.destroy(id))) return undefined;
  return current.get(id, now);
}

/**
 * How long a move in flight may still take to remove its session from the previous store: its insert and its
 * removal are each bounded (3 s a call, 4.5 s for a request's calls together), and an insert that timed out
 * is finished once it lands (PostgreSQL's own timeouts end it within 6 s). A copy in both stores for longer
 * than this was left by a crash.
 */
export const MOVE_SETTLE_MS = 10_000;
