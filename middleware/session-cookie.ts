/**
 * The visitor's session cookie, read and written for koa-session (its
 * `externalKey` hook) so that a cookie sessionkeeper did not issue (no
 * signature, a wrong one, or a signed value that is not an id) is logged as
 * `session.cookie_rejected` before the visitor gets a fresh session. The
 * cookie's value is never logged.
 */
import type { Context } from 'koa';
import type { SessionkeeperConfig } from './config.ts';
import { isWellFormedSessionId } from './ids.ts';
import { requestSessionOf } from './koa-store-adapter.ts';
import type { SecurityLog } from './security-log.ts';

/** koa-session's `externalKey`: where the session id comes from (`''` for none) and goes to. */
export interface SessionCookie {
  get(ctx: Context): string;
  set(ctx: Context, rawId: string): void;
}

/** The session cookie of `config`: signed, HttpOnly, SameSite=Lax, Secure in production, persistent or browser-session. */
export function sessionCookie(config: SessionkeeperConfig, securityLog: SecurityLog): SessionCookie {
  const name = config.cookieName;
  const options = {
    // 'browser': no expiry, so the cookie ends with the browser; the server-side TTL still applies.
    maxAge: config.cookieType === 'browser' ? undefined : config.idleTtlMs,
    httpOnly: true,
    signed: true,
    sameSite: 'lax' as const,
    secure: config.production,
    overwrite: true,
  };
  return {
    get(ctx) {
      const rawId = ctx.cookies.get(name, { signed: true });
      if (rawId !== undefined) {
        if (isWellFormedSessionId(rawId)) return rawId;
        securityLog.warn('session.cookie_rejected', ctx, { reason: 'not an id' });
        return '';
      }
      // Only a cookie that is there but failed its signature is worth a line; a first visit has none.
      if (ctx.cookies.get(name)) securityLog.warn('session.cookie_rejected', ctx, { reason: 'bad or missing signature' });
      return '';
    },
    set(ctx, rawId) {
      ctx.cookies.set(name, rawId, options);
      const state = requestSessionOf(ctx);
      if (state) state.cookieWritten = true;
    },
  };
}
