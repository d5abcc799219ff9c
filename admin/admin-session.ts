/**
 * The operator's sign-in on the HTML dashboard, kept server-side in the
 * configured store, in a namespace of its own (never among the visitors'
 * sessions, so it never shows up in their list or counts).
 *
 * The cookie (`sk_admin`, signed with the app's keys) carries only a random
 * token; the store keys the sign-in by the token's SHA-256 digest, as it keys
 * visitor sessions, so a dump of the store gives no usable cookie. Signing out
 * removes the record, so a copy of the cookie is dead in every process and
 * after a restart; the store's idle and absolute expiry end a sign-in that is
 * not used. The record holds a tag derived from the keys and the credentials:
 * a changed user name or password ends every sign-in.
 */
import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import { isWellFormedSessionId, newSessionId, publicIdOf } from '../middleware/ids.ts';
import type { Lifetime, SessionStore } from '../middleware/store.ts';
import { secretsEqual } from './credentials.ts';

/** One signed-in operator. */
export interface AdminSession {
  /** The store's id of the sign-in (a digest of the cookie's token): what signing out removes. */
  id: string;
  /** The user name that signed in. */
  user: string;
  /** When the operator signed in: the absolute limit counts from here. */
  issuedAtMs: number;
  /** Idle expiry; each page moves it forward, up to the absolute limit. */
  expiresAtMs: number;
  /** Synchronizer token every state-changing form and cookie-authenticated API call must carry. */
  csrfToken: string;
}

/** What admin sessions are bound to, and how long they last. */
export interface AdminSessionOptions {
  /** ADMIN_USER. */
  user: string;
  /** ADMIN_PASSWORD: changing it ends every admin session. */
  password: string;
  /** The app's cookie-signing keys, newest first. */
  keys: string[];
  /** `Secure` cookies (production). */
  secure: boolean;
  /** The dashboard's prefix: the admin cookies are sent only to its paths. */
  cookiePath: string;
  /** Where sign-ins are kept: a namespace of the configured store. */
  store: SessionStore;
  /** How long an unused admin session lives (default 20 minutes). */
  idleTtlMs?: number;
  /** How long an admin session lives at most, however it is used (default 8 hours). */
  absoluteTtlMs?: number;
}

/** What the store keeps of a sign-in, beside its times. */
interface StoredSignIn {
  user: string;
  csrf: string;
  /** The credentials tag it was issued under. */
  cred: string;
}

/** Name of the admin session cookie (the visitors' is `sid`). */
export const ADMIN_COOKIE = 'sk_admin';
const DEFAULT_IDLE_TTL_MS = 20 * 60_000;
const DEFAULT_ABSOLUTE_TTL_MS = 8 * 60 * 60_000;

/** Issues, reads, rolls and ends admin sessions. */
export class AdminSessions {
  /** How long an unused admin session lives. */
  readonly idleTtlMs: number;
  /** How long an admin session lives at most. */
  readonly absoluteTtlMs: number;
  readonly #user: string;
  readonly #secure: boolean;
  readonly #cookiePath: string;
  readonly #store: SessionStore;
  readonly #lifetime: Lifetime;
  /** One credentials tag per key: the newest is issued, all are accepted, as with the cookie signature. */
  readonly #credentialTags: string[];
  readonly #signOutListeners: ((signInId: string) => void)[] = [];

  constructor(options: AdminSessionOptions) {
    this.#user = options.user;
    this.#secure = options.secure;
    this.#cookiePath = options.cookiePath;
    this.#store = options.store;
    this.idleTtlMs = options.idleTtlMs ?? DEFAULT_IDLE_TTL_MS;
    this.absoluteTtlMs = options.absoluteTtlMs ?? DEFAULT_ABSOLUTE_TTL_MS;
    this.#lifetime = { idleTtlMs: this.idleTtlMs, absoluteTtlMs: this.absoluteTtlMs };
    this.#credentialTags = options.keys.map((key) =>
      createHmac('sha256', key).update(`sessionkeeper admin\0${options.user}\0${options.password}`).digest('base64url').slice(0, 22),
    );
  }

  /** Signs the operator in: a new token in the cookie, its sign-in (with a fresh CSRF token) in the store. */
  async start(ctx: Context, nowMs = Date.now()): Promise<AdminSession> {
    const token = newSessionId();
    const signIn: StoredSignIn = { user: this.#user, csrf: newSessionId(), cred: this.#credentialTags[0]! };
    const expiresAtMs = nowMs + this.idleTtlMs;
    const id = publicIdOf(token);
    await this.#store.create(id, { data: { ...signIn }, createdAt: nowMs, lastSeenAt: nowMs, expiresAt: expiresAtMs });
    this.#setCookie(ctx, token, expiresAtMs - nowMs);
    return { id, user: signIn.user, issuedAtMs: nowMs, expiresAtMs, csrfToken: signIn.csrf };
  }

  /**
   * The request's admin session, or undefined when there is none, its cookie was tampered with, or it was
   * signed out, expired or issued under other credentials. With `roll` (the HTML pages), the same store
   * call moves its idle expiry forward and the cookie is sent again.
   */
  async read(ctx: Context, { roll = false, nowMs = Date.now() }: { roll?: boolean; nowMs?: number } = {}): Promise<AdminSession | undefined> {
    const token = ctx.cookies.get(ADMIN_COOKIE, { signed: true });
    if (!isWellFormedSessionId(token)) return undefined;
    const id = publicIdOf(token);
    const record = await this.#store.get(id, nowMs, roll ? this.#lifetime : undefined);
    const signIn = record && signInOf(record.data);
    if (!record || !signIn || signIn.user !== this.#user || !this.#credentialTags.some((tag) => secretsEqual(signIn.cred, tag))) return undefined;
    if (roll) this.#setCookie(ctx, token, record.expiresAt - nowMs);
    return { id, user: signIn.user, issuedAtMs: record.createdAt, expiresAtMs: record.expiresAt, csrfToken: signIn.csrf };
  }

  /** When the sign-in `id` expires, or undefined once it was signed out or has expired (for the live event streams). */
  async expiryOf(id: string, nowMs = Date.now()): Promise<number | undefined> {
    return (await this.#store.get(id, nowMs))?.expiresAt;
  }

  /** Signs the operator out: the sign-in is removed from the store (every copy of the cookie is dead) and the cookie cleared. */
  async end(ctx: Context, session: AdminSession): Promise<void> {
    await this.#store.destroy(session.id);
    this.clear(ctx);
    for (const listener of this.#signOutListeners) listener(session.id);
  }

  /** Calls `listener` with the id of each sign-in this process signs out (the live streams end theirs at once). */
  onSignOut(listener: (signInId: string) => void): void {
    this.#signOutListeners.push(listener);
  }

  /** Removes the cookie (and its signature) from the browser. */
  clear(ctx: Context): void {
    ctx.cookies.set(ADMIN_COOKIE, null, this.#cookieOptions());
  }

  #setCookie(ctx: Context, token: string, maxAgeMs: number): void {
    ctx.cookies.set(ADMIN_COOKIE, token, { ...this.#cookieOptions(), maxAge: maxAgeMs });
  }

  #cookieOptions() {
    return { signed: true, httpOnly: true, sameSite: 'strict' as const, secure: this.#secure, path: this.#cookiePath, overwrite: true };
  }
}

/** A stored sign-in, checked field by field; anything else (a counter, a foreign record) is none. */
function signInOf(data: Record<string, unknown>): StoredSignIn | undefined {
  const { user, csrf, cred } = data;
  return typeof user === 'string' && typeof csrf === 'string' && typeof cred === 'string' ? { user, csrf, cred } : undefined;
}
