/**
 * Who may use the dashboard: the HTML pages need the admin session cookie;
 * the JSON API (and the event stream) take HTTP Basic or that cookie. Every
 * credential check goes through the failure limiter, so an address (or an
 * account) that keeps guessing gets 429 whatever it sends, until its lock runs
 * out. Sign-ins, failures and lockouts are security events in the log.
 */
import type { Context, Next } from 'koa';
import type { SecurityLog } from '../middleware/security-log.ts';
import { formatDurationShort } from '../web/format.ts';
import { assertSameOrigin } from '../web/same-origin.ts';
import type { AdminSession, AdminSessions } from './admin-session.ts';
import { credentialsMatch, parseBasicAuthorization, type Credentials } from './credentials.ts';
import { assertCsrfToken, CSRF_HEADER } from './csrf.ts';
import type { FailureLimiter, Lock } from './failure-limiter.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The admin session of each authenticated request, keyed by its context. */
const signedIn = new WeakMap<Context, AdminSession>();

/**
 * The admin session of a request that passed `requirePage`, or `requireApi`
 * with the cookie; undefined after `requireApi` with HTTP Basic.
 */
export function adminSessionOf(ctx: Context): AdminSession | undefined {
  return signedIn.get(ctx);
}

/** Answers 303 to another page (after a form, or to the login page). */
export function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}

/** Checks every dashboard and API request's credentials: the admin session cookie or HTTP Basic. */
export class AdminAuth {
  /**
   * @param expected the dashboard's user name and password (createAdmin's user and password).
   * @param sessions the dashboard's admin sessions (the cookie sign-in).
   * @param limiter counts failed checks per address and per account, in the store.
   * @param securityLog where sign-ins, failures and lockouts are logged.
   * @param loginPath where the HTML pages send a visitor who is not signed in.
   */
  constructor(
    private readonly expected: Credentials,
    readonly sessions: AdminSessions,
    private readonly limiter: FailureLimiter,
    private readonly securityLog: SecurityLog,
    private readonly loginPath: string,
  ) {}

  /**
   * Checks credentials a client sent, through the failure limiter: 429 while
   * the address or the account is locked (even for the right password), and
   * 429 for the failure that locks it; otherwise true or false. A success does
   * not wipe earlier failures: a script signing in from the same address as a
   * guesser must not reset the guesser's count.
   */
  async verify(ctx: Context, given: Credentials): Promise<boolean> {
    await this.assertNotLocked(ctx);
    if (credentialsMatch(given, this.expected)) return true;
    const lock = await this.limiter.recordFailure(ctx.ip, this.expected.user);
    this.securityLog.warn('admin.sign_in_failed', ctx, { scheme: ctx.get('Authorization') ? 'basic' : 'form' });
    if (lock) {
      this.securityLog.warn('admin.locked_out', ctx, { scope: lock.scope, retryAfterSeconds: Math.ceil(lock.retryAfterMs / 1000) });
      this.#tooMany(ctx, lock);
    }
    return false;
  }

  /** Throws 429 with Retry-After while the request's address, or the account, is locked. */
  async assertNotLocked(ctx: Context): Promise<void> {
    const lock = await this.limiter.lockOf(ctx.ip, this.expected.user);
    if (lock) this.#tooMany(ctx, lock);
  }

  /** Signs the operator in after a successful check: the admin session, and a line in the log. */
  async signIn(ctx: Context): Promise<AdminSession> {
    const session = await this.sessions.start(ctx);
    this.securityLog.warn('admin.signed_in', ctx, { user: session.user });
    return session;
  }

  /** Signs the operator out everywhere this sign-in is used, and says so in the log. */
  async signOut(ctx: Context, session: AdminSession): Promise<void> {
    await this.sessions.end(ctx, session);
    this.securityLog.warn('admin.signed_out', ctx, { user: session.user });
  }

  /** HTML pages: the admin session, its idle expiry moved forward; otherwise a redirect to the login page. */
  requirePage = async (ctx: Context, next: Next): Promise<void> => {
    const session = await this.sessions.read(ctx, { roll: true });
    if (!session) return seeOther(ctx, this.loginPath);
    signedIn.set(ctx, session);
    await next();
  };

  /**
   * The JSON API and the event stream: HTTP Basic, or the admin session cookie
   * (then a state-changing call must carry the CSRF token header). Either way a
   * state-changing call from a page of another origin is refused: a browser
   * replays cached Basic credentials just as it sends cookies.
   */
  requireApi = async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('Authorization');
    const changesState = !SAFE_METHODS.has(ctx.method);
    if (header) {
      const given = parseBasicAuthorization(header);
      if (!given || !(await this.verify(ctx, given))) this.#unauthorized(ctx, 'Wrong user name or password.');
    } else {
      const session = await this.sessions.read(ctx);
      if (!session) this.#unauthorized(ctx, 'Authentication required: use HTTP Basic with the dashboard\'s user name and password.');
      signedIn.set(ctx, session);
      if (changesState) assertCsrfToken(ctx, ctx.get(CSRF_HEADER) || undefined, session.csrfToken);
    }
    if (changesState) assertSameOrigin(ctx);
    await next();
  };

  #unauthorized(ctx: Context, message: string): never {
    ctx.throw(401, message, { headers: { 'WWW-Authenticate': 'Basic realm="sessionkeeper admin", charset="UTF-8"' } });
  }

  #tooMany(ctx: Context, lock: Lock): never {
    const seconds = Math.max(1, Math.ceil(lock.retryAfterMs / 1000));
    const who = lock.scope === 'address' ? 'from your address' : 'on this account, from anywhere';
    ctx.throw(429, `Too many failed sign-ins ${who}: try again in ${formatDurationShort(seconds * 1000)}.`, {
      headers: { 'Retry-After': String(seconds) },
    });
  }
}
