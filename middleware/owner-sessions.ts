/**
 * What a running sessionkeeper answers for one owner: list their sessions, end
 * them all (or all but the request's own), end one. Each reads the stores'
 * owner index, never the other owners' sessions, and works outside a request
 * too (an admin script, a password-reset job).
 */
import type { Context } from 'koa';
import type { DestroyedBy, SessionEvents } from './events.ts';
import type { GuardedSessionStore } from './guarded-store.ts';
import { isWellFormedPublicId } from './ids.ts';
import { sessionPublicId } from './koa-store-adapter.ts';
import { assertOwner, MAX_PAGE_SIZE, partialRemovalOf, type SessionSummary } from './store.ts';
import type { SwitchingStore } from './switching-store.ts';

/** What `endOwnerSessions` may be told besides the owner. */
export interface EndOwnerSessionsOptions {
  /**
   * A session to keep: the request's own (its Koa context: "sign out of the other devices") or a public id.
   * A context without a session keeps nothing.
   */
  except?: Context | string;
  /** Who ends them, for each `session.destroyed` event: `app` (default), `admin` or `user`. */
  by?: DestroyedBy;
}

/** What `endOwnerSession` may be told besides the owner and the id. */
export interface EndOwnerSessionOptions {
  /** Who ends it, for the `session.destroyed` event: `app` (default), `admin` or `user`. */
  by?: DestroyedBy;
}

/** The owner calls of a running sessionkeeper (see `SessionkeeperCore`). */
export interface OwnerSessions {
  /**
   * Ends every live session of `owner` (but `except`), each logged as `session.destroyed` with `by` and the
   * owner, and resolves to how many it ended. Every request of an ended session finds it gone from then on.
   */
  endOwnerSessions(owner: string, options?: EndOwnerSessionsOptions): Promise<number>;
  /**
   * The live sessions of `owner`, most recently used first: public id, times, size and key names, and the
   * device facts when `SESSION_TRACK_DEVICE` kept them. During a backend switch, from both stores.
   */
  listOwnerSessions(owner: string): Promise<SessionSummary[]>;
  /** Ends the session with this public id if it is one of `owner`'s and live; false otherwise (another owner's is never ended). */
  endOwnerSession(owner: string, publicId: string, options?: EndOwnerSessionOptions): Promise<boolean>;
}

/** The owner calls over a store (the guarded one, or a switch's) and the events they record. */
export function ownerSessions(store: GuardedSessionStore, transition: SwitchingStore | undefined, events: SessionEvents): OwnerSessions {
  return {
    async endOwnerSessions(owner, { except, by = 'app' } = {}) {
      assertOwner(owner);
      const kept = typeof except === 'string' ? except : except && sessionPublicId(except);
      const report = (ended: readonly string[]) => {
        for (const sid of ended) events.record('session.destroyed', { sid, by, owner });
      };
      try {
        const ended = await store.endOwnerSessions(owner, Date.now(), kept === undefined ? [] : [kept]);
        report(ended);
        return ended.length;
      } catch (err) {
        // Those ended before the store failed are gone all the same: their endings are logged.
        report(partialRemovalOf(err)?.removedIds ?? []);
        throw err;
      }
    },

    async listOwnerSessions(owner) {
      assertOwner(owner);
      const now = Date.now();
      const stores = transition ? [transition.current, transition.previous] : [store];
      const byId = new Map<string, SessionSummary>();
      for (const source of stores) {
        let cursor: string | undefined;
        do {
          const page = await source.list({ owner, sort: 'activity', limit: MAX_PAGE_SIZE, cursor, now });
          // The current store's copy wins over one a move has not removed from the previous store yet.
          for (const session of page.sessions) if (!byId.has(session.id)) byId.set(session.id, session);
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
      }
      return [...byId.values()].sort((a, b) => b.lastSeenAt - a.lastSeenAt || (a.id < b.id ? 1 : -1));
    },

    async endOwnerSession(owner, publicId, { by = 'app' } = {}) {
      assertOwner(owner);
      if (!isWellFormedPublicId(publicId)) return false;
      // An id's owner never changes (a new owner means a new id), so what this read says still holds at the destroy.
      const record = await store.get(publicId, Date.now());
      if (record?.owner !== owner || !(await store.destroy(publicId))) return false;
      events.record('session.destroyed', { sid: publicId, by, owner });
      return true;
    },
  };
}
