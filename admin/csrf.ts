/**
 * Cross-site request forgery defences beside the same-origin check (shared
 * with the site, in `web/same-origin.ts`): a synchronizer token bound to
 * the admin session on every form, and a double-submit token for the login
 * form (login CSRF), whose cookie exists before any admin session does.
 */
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { SecurityRefusal } from '../middleware/security-log.ts';
import { secretsEqual } from './credentials.ts';

/** Name of the hidden form field that carries the token. */
export const CSRF_FIELD = 'csrf';
/** Header that carries the token on cookie-authenticated API calls. */
export const CSRF_HEADER = 'x-csrf-token';
const LOGIN_COOKIE = 'sk_admin_login';
const LOGIN_TOKEN_TTL_MS = 30 * 60_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Throws 403 unless `given` equals the expected token (compared in constant time); the refusal is a security event. */
export function assertCsrfToken(ctx: Context, given: unknown, expected: string): void {
  if (typeof given !== 'string' || !secretsEqual(given, expected)) {
    const refusal: SecurityRefusal = { securityEvent: 'request.csrf_refused', securityFacts: { reason: given === undefined ? 'no token' : 'wrong token' } };
    ctx.throw(403, 'The form was missing its security token or it did not match your sign-in, so nothing was changed. Reload the page and try again.', refusal);
  }
}

/** The double-submit token of the login form: a signed cookie and the same value in the form. */
export class LoginTokens {
  /**
   * @param secure set the cookie `Secure` (production).
   * @param cookiePath the dashboard's prefix: the cookie is sent only to its paths.
   */
  constructor(
    private readonly secure: boolean,
    private readonly cookiePath: string,
  ) {}

  /** The token for a login form: the one the browser already holds, or a new one set in a cookie. */
  issue(ctx: Context): string {
    const current = this.#read(ctx);
    if (current) return current;
    const token = randomBytes(32).toString('base64url');
    ctx.cookies.set(LOGIN_COOKIE, token, { ...this.#cookieOptions(), maxAge: LOGIN_TOKEN_TTL_MS });
    return token;
  }

  /** Throws 403 unless the form's token matches the browser's login cookie. */
  assertValid(ctx: Context, given: unknown): void {
    const expected = this.#read(ctx);
    if (!expected) {
      const refusal: SecurityRefusal = { securityEvent: 'request.csrf_refused', securityFacts: { reason: 'no login token cookie' } };
      ctx.throw(403, 'The sign-in form has expired. Reload the page and sign in again.', refusal);
    }
    assertCsrfToken(ctx, given, expected);
  }

  /** Removes the login cookie once it has served its purpose. */
  clear(ctx: Context): void {
    ctx.cookies.set(LOGIN_COOKIE, null, this.#cookieOptions());
  }

  #read(ctx: Context): string | undefined {
    const value = ctx.cookies.get(LOGIN_COOKIE, { signed: true });
    return value && TOKEN_PATTERN.test(value) ? value : undefined;
  }

  #cookieOptions() {
    return { signed: true, httpOnly: true, sameSite: 'strict' as const, secure: this.secure, path: this.cookiePath, overwrite: true };
  }
}
