import type { Context } from 'koa';
import type { DestroyedBy, SessionEvents } from './events.ts';
import { isWellFormedSessionId, publicIdOf } from './ids.ts';
import { SessionTooLargeError } from './session-too-large.ts';
import { dataSizeBytes, expiryOf, type Lifetime, type SessionData, type SessionStore } from './store.ts';

/** What this request loaded: the public id and creation time of its session. */
interface LoadedSession {
  id: string;
  createdAt: number;
}

/** Per-request notes, keyed by the Koa context so nothing leaks between requests. */
const loaded = new WeakMap<Context, LoadedSession>();
const endedBy = new WeakMap<Context, DestroyedBy>();
/** A regeneration in progress: the old id and creation time, so the new id keeps the absolute lifetime. */
const regenerating = new WeakMap<Context, { previousSid?: string; createdAt?: number }>();

/** Ends the request's session now, recording who ended it for the `session.destroyed` event. */
export function endSession(ctx: Context, by: DestroyedBy = 'app'): void {
  endedBy.set(ctx, by);
  ctx.session = null;
}

/**
 * Gives the request's session a new id (after a login, say) and keeps its data;
 * logged as `session.regenerated` with the previous public id.
 */
export async function regenerateSession(ctx: Context): Promise<void> {
  regenerating.set(ctx, {});
  try {
    await ctx.session?.regenerate();
  } finally {
    regenerating.delete(ctx);
  }
}

/** The public id of the session this request loaded or created, if any. */
export function sessionPublicId(ctx: Context): string | undefined {
  return loaded.get(ctx)?.id;
}

/** koa-session always passes the request's context; its types mark it optional. */
function contextOf(options: { ctx?: unknown }): Context {
  if (!options.ctx) throw new TypeError('sessionkeeper: the store was called without a Koa context');
  return options.ctx as Context;
}

/** koa-session's bookkeeping fields start with `_`; they are not the application's data. */
function applicationData(json: Record<string, unknown>): SessionData {
  const data: SessionData = {};
  for (const [key, value] of Object.entries(json)) if (!key.startsWith('_')) data[key] = value;
  return data;
}

/**
 * The application's data of a session koa-session is saving, if it fits.
 *
 * @throws SessionTooLargeError when its UTF-8 JSON is larger than `maxBytes`; nothing is written then.
 */
function storableData(json: Record<string, unknown>, maxBytes: number): SessionData {
  const data = applicationData(json);
  const sizeBytes = dataSizeBytes(data);
  if (sizeBytes > maxBytes) throw new SessionTooLargeError(sizeBytes, maxBytes);
  return data;
}

/**
 * koa-session's external-store contract over a SessionStore. It hashes raw ids
 * into public ids, enforces idle and absolute expiry on the server whatever the
 * cookie says (koa-session's `maxAge`, possibly the string `'session'`, is
 * ignored), rolls each session forward as the request reads it (one store
 * call), never resurrects a session someone destroyed, refuses to write a
 * session larger than `maxSessionBytes`, and records the lifecycle events.
 */
export class KoaStoreAdapter {
  constructor(
    private readonly store: SessionStore,
    private readonly events: SessionEvents,
    private readonly lifetime: Lifetime,
    private readonly maxSessionBytes: number,
  ) {}

  async get(rawId: string, _maxAge: unknown, options: { ctx?: unknown }): Promise<SessionData | undefined> {
    const ctx = contextOf(options);
    // A cookie we could not have issued costs no store read.
    if (!isWellFormedSessionId(rawId)) return undefined;
    const id = publicIdOf(rawId);
    // The read is the rolling refresh: the store moves the expiry forward in the same step.
    const record = await this.store.get(id, Date.now(), this.lifetime);
    if (!record) return undefined;
    loaded.set(ctx, { id, createdAt: record.createdAt });
    return record.data;
  }

  async set(rawId: string, json: Record<string, unknown>, _maxAge: unknown, options: { changed: boolean; ctx?: unknown }): Promise<void> {
    const ctx = contextOf(options);
    const id = publicIdOf(rawId);
    const now = Date.now();
    const session = loaded.get(ctx);
    if (session?.id === id) {
      // Unchanged: the read already rolled it forward. Changed: rewrite it only if it still exists,
      // so a concurrent logout or an operator's purge wins.
      if (!options.changed) return;
      const data = storableData(json, this.maxSessionBytes);
      const expiresAt = expiryOf(this.lifetime, session.createdAt, now);
      await this.store.update(id, { data, createdAt: session.createdAt, lastSeenAt: now, expiresAt }, now);
      return;
    }
    const data = storableData(json, this.maxSessionBytes);
    // A new id for an old session is not a new session: its absolute limit still counts from the first creation.
    const createdAt = regenerating.get(ctx)?.createdAt ?? now;
    await this.store.create(id, { data, createdAt, lastSeenAt: now, expiresAt: expiryOf(this.lifetime, createdAt, now) });
    loaded.set(ctx, { id, createdAt });
    const previousSid = regenerating.get(ctx)?.previousSid;
    if (previousSid) this.events.record('session.regenerated', { sid: id, previousSid });
    else this.events.record('session.created', { sid: id });
  }

  async destroy(rawId: string, options: { ctx?: unknown }): Promise<void> {
    const ctx = contextOf(options);
    if (!isWellFormedSessionId(rawId)) return;
    const id = publicIdOf(rawId);
    const removed = await this.store.destroy(id);
    const createdAt = loaded.get(ctx)?.id === id ? loaded.get(ctx)!.createdAt : undefined;
    loaded.delete(ctx);
    if (!removed) return;
    const regeneration = regenerating.get(ctx);
    if (regeneration) Object.assign(regeneration, { previousSid: id, createdAt });
    else this.events.record('session.destroyed', { sid: id, by: endedBy.get(ctx) ?? 'app' });
  }
}
