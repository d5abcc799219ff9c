/**
 * The operator's sign-in on the HTML dashboard: its own cookie, never the
 * visitors' session store, so it never shows up in the session list or counts.
 *
 * Design: a stateless token in a cookie signed with the app's keys
 * (`ctx.cookies`, `signed: true`), carrying the user, the issue time, an idle
 * expiry that slides on use, a random CSRF secret and a random token id. It
 * needs no server-side table, so it keeps working across restarts and across
 * several processes that share SESSION_KEYS, and it cannot be forged without
 * those keys. Its weak point, logout, is covered by an in-process revocation
 * set of token ids, each kept only as long as the token could still be used
 * (another process does not see it; the idle expiry bounds that gap). A tag
 * derived from the keys and the credentials ends every token when
 * ADMIN_USER or ADMIN_PASSWORD changes.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { secretsEqual } from './credentials.ts';

/** One signed-in operator, as read from the cookie. */
export interface AdminSession {
  /** Random token id: what logout revokes. */
  id: string;
  /** The user name that signed in. */
  user: string;
  /** When the operator signed in: the absolute limit counts from here. */
  issuedAtMs: number;
  /** Idle expiry; each use moves it forward, up to the absolute limit. */
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
  /** How long an unused admin session lives (default 20 minutes). */
  idleTtlMs?: number;
  /** How long an admin session lives at most, however it is used (default 8 hours). */
  absoluteTtlMs?: number;
}

/** What the cookie carries, with short names to keep it small. */
interface TokenPayload {
  id: string;
  u: string;
  iat: number;
  exp: number;
  csrf: string;
  cred: string;
}

/** Name of the admin session cookie (the visitors' is `sid`). */
export const ADMIN_COOKIE = 'sk_admin';
/** The admin cookies are sent only to the dashboard's paths. */
export const ADMIN_COOKIE_PATH = '/admin';
const DEFAULT_IDLE_TTL_MS = 20 * 60_000;
const DEFAULT_ABSOLUTE_TTL_MS = 8 * 60 * 60_000;
/** Logouts remembered at once; each is forgotten when its token would have expired anyway. */
const MAX_REVOKED = 10_000;
const RANDOM_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Issues, reads, refreshes and ends admin sessions. */
export class AdminSessions {
  /** How long an unused admin session lives. */
  readonly idleTtlMs: number;
  /** How long an admin session lives at most. */
  readonly absoluteTtlMs: number;
  readonly #user: string;
  readonly #secure: boolean;
  /** One credentials tag per key: the newest signs, all verify, as with the cookie signature. */
  readonly #credentialTags: string[];
  readonly #revoked = new Map<string, number>();

  constructor(options: AdminSessionOptions) {
    this.#user = options.user;
    this.#secure = options.secure;
    this.idleTtlMs = options.idleTtlMs ?? DEFAULT_IDLE_TTL_MS;
    this.absoluteTtlMs = options.absoluteTtlMs ?? DEFAULT_ABSOLUTE_TTL_MS;
    this.#credentialTags = options.keys.map((key) =>
      createHmac('sha256', key).update(`sessionkeeper admin\0${options.user}\0${options.password}`).digest('base64url').slice(0, 22),
    );
  }

  /** Signs the operator in: a fresh token id and CSRF secret. */
  start(ctx: Context, nowMs = Date.now()): AdminSession {
    const session: AdminSession = {
      id: randomToken(),
      user: this.#user,
      issuedAtMs: nowMs,
      expiresAtMs: nowMs + this.idleTtlMs,
      csrfToken: randomToken(),
    };
    this.#write(ctx, session, nowMs);
    return session;
  }

  /** The request's admin session, or undefined when there is none, it was tampered with, expired or was revoked. */
  read(ctx: Context, nowMs = Date.now()): AdminSession | undefined {
    const value = ctx.cookies.get(ADMIN_COOKIE, { signed: true });
    const payload = value === undefined ? undefined : parsePayload(value);
    if (!payload || payload.exp <= nowMs || this.isRevoked(payload.id)) return undefined;
    if (payload.u !== this.#user || !this.#credentialTags.some((tag) => secretsEqual(payload.cred, tag))) return undefined;
    return { id: payload.id, user: payload.u, issuedAtMs: payload.iat, expiresAtMs: payload.exp, csrfToken: payload.csrf };
  }

  /**
   * True when logout revoked this token id in this process. A revoked id is
   * remembered until every copy of its token has expired anyway.
   */
  isRevoked(id: string): boolean {
    return this.#revoked.has(id);
  }

  /** Slides the idle expiry forward (never past the absolute limit) and re-issues the cookie. */
  refresh(ctx: Context, session: AdminSession, nowMs = Date.now()): AdminSession {
    const refreshed = { ...session, expiresAtMs: Math.min(nowMs + this.idleTtlMs, session.issuedAtMs + this.absoluteTtlMs) };
    this.#write(ctx, refreshed, nowMs);
    return refreshed;
  }

  /** Signs the operator out: the token is revoked in this process and the cookie cleared. */
  end(ctx: Context, session: AdminSession, nowMs = Date.now()): void {
    for (const [id, untilMs] of this.#revoked) if (untilMs <= nowMs) this.#revoked.delete(id);
    // Every copy of this token expires by now + idle TTL at the latest: it was refreshed no later than now.
    this.#revoked.set(session.id, nowMs + this.idleTtlMs);
    while (this.#revoked.size > MAX_REVOKED) this.#revoked.delete(this.#revoked.keys().next().value!);
    this.clear(ctx);
  }

  /** Removes the cookie (and its signature) from the browser. */
  clear(ctx: Context): void {
    ctx.cookies.set(ADMIN_COOKIE, null, this.#cookieOptions());
  }

  #write(ctx: Context, session: AdminSession, nowMs: number): void {
    const payload: TokenPayload = {
      id: session.id,
      u: session.user,
      iat: session.issuedAtMs,
      exp: session.expiresAtMs,
      csrf: session.csrfToken,
      cred: this.#credentialTags[0]!,
    };
    const value = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    ctx.cookies.set(ADMIN_COOKIE, value, { ...this.#cookieOptions(), maxAge: session.expiresAtMs - nowMs });
  }

  #cookieOptions() {
    return { signed: true, httpOnly: true, sameSite: 'strict' as const, secure: this.#secure, path: ADMIN_COOKIE_PATH, overwrite: true };
  }
}

/** Parses a cookie value strictly; anything that is not a token we wrote is no session. */
function parsePayload(value: string): TokenPayload | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { id, u, iat, exp, csrf, cred } = parsed as Record<string, unknown>;
  if (typeof id !== 'string' || !RANDOM_PATTERN.test(id)) return undefined;
  if (typeof csrf !== 'string' || !RANDOM_PATTERN.test(csrf)) return undefined;
  if (typeof u !== 'string' || typeof cred !== 'string') return undefined;
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) return undefined;
  return { id, u, iat: iat as number, exp: exp as number, csrf, cred };
}
