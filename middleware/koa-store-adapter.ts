import type { Context } from 'koa';
import type { DestroyedBy, SessionEvents } from './events.ts';
import { type GuardedSessionStore, StoreBudget } from './guarded-store.ts';
import { isWellFormedSessionId, publicIdOf } from './ids.ts';
import { SessionTooLargeError } from './session-too-large.ts';
import { deviceFactsOf } from './device.ts';
import { assertOwner, expiryOf, wasRolledAt, type DeviceFacts, type RemovedSession, type Rolling, type SessionData } from './store.ts';

/**
 * What sessionkeeper knows of one request's session, kept on its Koa context so nothing leaks between
 * requests and nothing is worked out twice (the id's digest, the store view and its time budget).
 */
export interface RequestSession {
  /** The store for this request: every call spends from one time budget, so its 503 comes within 5 s. */
  readonly store: GuardedSessionStore;
  /** The raw id last hashed, and its public id (the SHA-256 is taken once per request). */
  rawId?: string;
  publicId?: string;
  /** The session this request loaded or created: public id, creation time, and the owner and device it was created with. */
  loaded?: LoadedSession;
  /** `setSessionOwner` at work: the owner the regenerated session gets. */
  newOwner?: string;
  /** The read rolled the session forward: its cookie goes out again with the new expiry. */
  rolled: boolean;
  /** The session cookie was written or cleared for this response already. */
  cookieWritten: boolean;
  /** Who ended the session, for the `session.destroyed` event. */
  endedBy?: DestroyedBy;
  /**
   * A regeneration in progress: the old id and creation time, so the new id keeps the absolute lifetime, and
   * its owner and device, which the new id keeps too (unless `newOwner` says otherwise). Filled in only when the
   * old session was still there to remove: a session ended meanwhile passes nothing on.
   */
  regenerating?: { previousSid?: string; createdAt?: number; owner?: string; device?: DeviceFacts };
}

/** What a request knows of the session it loaded or created. */
export interface LoadedSession {
  id: string;
  createdAt: number;
  owner?: string;
  device?: DeviceFacts;
}

/** The settings the adapter works by: how sessions roll, how large they may be, the cap per owner and device tracking. */
export interface AdapterSettings extends Rolling {
  maxSessionBytes: number;
  maxPerOwner: number;
  trackDevice: boolean;
}

const REQUEST_SESSION = Symbol('sessionkeeper.requestSession');
type WithRequestSession = Context & { [REQUEST_SESSION]?: RequestSession };

/** The request's session notes, if sessionkeeper has seen this request. */
export function requestSessionOf(ctx: Context): RequestSession | undefined {
  return (ctx as WithRequestSession)[REQUEST_SESSION];
}

/** Starts the request's session notes, with a fresh store time budget. */
export function beginRequestSession(ctx: Context, store: GuardedSessionStore): RequestSession {
  const state: RequestSession = { store: store.withBudget(new StoreBudget()), rolled: false, cookieWritten: false };
  (ctx as WithRequestSession)[REQUEST_SESSION] = state;
  return state;
}

/** Ends the request's session now, recording who ended it for the `session.destroyed` event. */
export function endSession(ctx: Context, by: DestroyedBy = 'app'): void {
  const state = requestSessionOf(ctx);
  if (state) state.endedBy = by;
  ctx.session = null;
}

/**
 * Gives the request's session a new id (after a login, say) and keeps its data;
 * logged as `session.regenerated` with the previous public id.
 */
export async function regenerateSession(ctx: Context): Promise<void> {
  const state = requestSessionOf(ctx);
  if (state) state.regenerating = {};
  try {
    await ctx.session?.regenerate();
  } finally {
    if (state) state.regenerating = undefined;
  }
}

/** The public id of the session this request loaded or created, if any. */
export function sessionPublicId(ctx: Context): string | undefined {
  return requestSessionOf(ctx)?.loaded?.id;
}

/** Who the request's session belongs to, if it has an owner (`setSessionOwner`). */
export function sessionOwner(ctx: Context): string | undefined {
  return requestSessionOf(ctx)?.loaded?.owner;
}

/**
 * Names who the request's session belongs to, after a sign-in. A session without an owner, or with another
 * one, gets a new id first, as a login should (`session.regenerated`; a visitor without a session gets one,
 * `session.created`), and the new id carries the owner from its creation: the store indexes it under the owner
 * in the same step (and, with `SESSION_MAX_PER_OWNER`, evicts that owner's least recently used sessions beyond
 * the cap). The same owner again changes nothing. A session that had another owner starts empty: one
 * account's data never follows a sign-in as another. A session ended meanwhile (by `endOwnerSessions`, say)
 * passes nothing on either.
 *
 * @throws TypeError when `owner` is not a non-empty string of at most 512 characters without NUL or lone surrogates.
 */
export async function setSessionOwner(ctx: Context, owner: string): Promise<void> {
  assertOwner(owner);
  const state = requestSessionOf(ctx);
  if (!state) throw new TypeError('sessionkeeper: setSessionOwner was called outside sessionkeeper\'s middleware');
  // koa-session loaded the session before the route ran (an external store is read eagerly).
  const session = ctx.session;
  if (!session) throw new TypeError('sessionkeeper: setSessionOwner was called after the session was ended in this request');
  const previousOwner = state.loaded?.owner;
  if (previousOwner === owner) return;
  if (previousOwner !== undefined) clearData(session);
  state.newOwner = owner;
  try {
    await regenerateSession(ctx);
  } finally {
    state.newOwner = undefined;
  }
}

/** Empties a koa-session session object: its own fields are the application's data. */
function clearData(session: NonNullable<Context['session']>): void {
  for (const key of Object.keys(session.toJSON())) delete (session as unknown as Record<string, unknown>)[key];
}

/** koa-session always passes the request's context; its types mark it optional. */
function contextOf(options: { ctx?: unknown }): Context {
  if (!options.ctx) throw new TypeError('sessionkeeper: the store was called without a Koa context');
  return options.ctx as Context;
}

/** The request's notes: begun by sessionkeeper's middleware before koa-session calls the store. */
function stateOf(ctx: Context): RequestSession {
  const state = requestSessionOf(ctx);
  if (!state) throw new TypeError('sessionkeeper: the store was called outside sessionkeeper\'s middleware');
  return state;
}

/** The public id of `rawId`, hashed once per request however often koa-session passes the id. */
function publicIdFor(state: RequestSession, rawId: string): string {
  if (state.rawId !== rawId || state.publicId === undefined) {
    state.rawId = rawId;
    state.publicId = publicIdOf(rawId);
  }
  return state.publicId;
}

/**
 * The application's data of a session koa-session is saving, and its JSON (encoded once: the store writes
 * it as is), if it fits. koa-session's bookkeeping fields start with `_`; they are not the application's.
 *
 * @throws SessionTooLargeError when its UTF-8 JSON is larger than `maxBytes`; nothing is written then.
 */
function storableData(json: Record<string, unknown>, maxBytes: number): { data: SessionData; dataJson: string } {
  const data: SessionData = {};
  for (const key in json) if (key[0] !== '_') data[key] = json[key];
  const dataJson = JSON.stringify(data);
  // UTF-8 is never shorter than the UTF-16 length / 2, nor longer than 3 bytes per UTF-16 unit: most
  // sessions are decided without counting bytes.
  if (dataJson.length * 3 > maxBytes) {
    const sizeBytes = Buffer.byteLength(dataJson, 'utf8');
    if (sizeBytes > maxBytes) throw new SessionTooLargeError(sizeBytes, maxBytes);
  }
  return { data, dataJson };
}

/**
 * koa-session's external-store contract over a SessionStore. It hashes raw ids
 * into public ids, enforces idle and absolute expiry on the server whatever the
 * cookie says (koa-session's `maxAge`, possibly the string `'session'`, is
 * ignored), rolls each session forward as the request reads it when it is due
 * (`SESSION_TOUCH_AFTER`; one store call either way), never resurrects a
 * session someone destroyed, refuses to write a session larger than
 * `maxSessionBytes`, and records the lifecycle events.
 */
export class KoaStoreAdapter {
  constructor(
    private readonly events: SessionEvents,
    private readonly settings: AdapterSettings,
  ) {}

  async get(rawId: string, _maxAge: unknown, options: { ctx?: unknown }): Promise<SessionData | undefined> {
    const state = stateOf(contextOf(options));
    // A cookie we could not have issued costs no store read.
    if (!isWellFormedSessionId(rawId)) return undefined;
    const id = publicIdFor(state, rawId);
    const now = Date.now();
    // The read is the rolling refresh: when the session is due, the store moves its expiry in the same step.
    const record = await state.store.get(id, now, this.settings);
    if (!record) return undefined;
    state.loaded = { id, createdAt: record.createdAt, owner: record.owner, device: record.device };
    state.rolled = wasRolledAt(record, now);
    return record.data;
  }

  async set(rawId: string, json: Record<string, unknown>, _maxAge: unknown, options: { changed: boolean; ctx?: unknown }): Promise<void> {
    const state = stateOf(contextOf(options));
    const id = publicIdFor(state, rawId);
    const now = Date.now();
    const session = state.loaded;
    if (session?.id === id) {
      // Unchanged: the read rolled it forward when it was due. Changed: rewrite it only if it still exists,
      // so a concurrent logout or an operator's purge wins.
      if (!options.changed) return;
      const { data, dataJson } = storableData(json, this.settings.maxSessionBytes);
      const expiresAt = expiryOf(this.settings, session.createdAt, now);
      // The owner and device go along for a store that rewrites whole records; none changes them.
      const { owner, device } = session;
      await state.store.update(id, { data, dataJson, createdAt: session.createdAt, lastSeenAt: now, expiresAt, owner, device }, now);
      return;
    }
    const { data, dataJson } = storableData(json, this.settings.maxSessionBytes);
    const regenerating = state.regenerating;
    // A new id for an old session is not a new session: its absolute limit still counts from the first creation.
    const createdAt = regenerating?.createdAt ?? now;
    const owner = state.newOwner ?? regenerating?.owner;
    const device = this.deviceFor(state, contextOf(options));
    const record = { data, dataJson, createdAt, lastSeenAt: now, expiresAt: expiryOf(this.settings, createdAt, now), owner, device };
    const ownerField = owner === undefined ? {} : { owner };
    const recordEvictions = (evicted: RemovedSession[]) => {
      for (const gone of evicted) this.events.record('session.evicted', { sid: gone.id, ...ownerField });
    };
    recordEvictions(await state.store.create(id, record, this.settings.maxPerOwner, recordEvictions));
    state.loaded = { id, createdAt, owner, device };
    const previousSid = regenerating?.previousSid;
    if (previousSid) this.events.record('session.regenerated', { sid: id, previousSid, ...ownerField });
    else this.events.record('session.created', { sid: id, ...ownerField });
  }

  /**
   * The device facts a new session gets, when they are tracked: a plain regeneration keeps what the session
   * had; a sign-in (`setSessionOwner`) or a new session takes the request's.
   */
  private deviceFor(state: RequestSession, ctx: Context): DeviceFacts | undefined {
    if (!this.settings.trackDevice) return undefined;
    const kept = state.newOwner === undefined ? state.regenerating?.device : undefined;
    return kept ?? deviceFactsOf(ctx);
  }

  async destroy(rawId: string, options: { ctx?: unknown }): Promise<void> {
    const state = stateOf(contextOf(options));
    // koa-session clears the cookie itself after this call.
    state.cookieWritten = true;
    if (!isWellFormedSessionId(rawId)) return;
    const id = publicIdFor(state, rawId);
    const removed = await state.store.destroy(id);
    const loaded = state.loaded?.id === id ? state.loaded : undefined;
    state.loaded = undefined;
    if (!removed) {
      // The session this request loaded was ended meanwhile (by another request, `endOwnerSessions`, an
      // operator): the regeneration under way must not carry its data over to the new id.
      const session = contextOf(options).session;
      if (state.regenerating && loaded && session) clearData(session);
      return;
    }
    if (state.regenerating) Object.assign(state.regenerating, { previousSid: id, createdAt: loaded?.createdAt, owner: loaded?.owner, device: loaded?.device });
    else this.events.record('session.destroyed', { sid: id, by: state.endedBy ?? 'app', ...(loaded?.owner === undefined ? {} : { owner: loaded.owner }) });
  }
}
