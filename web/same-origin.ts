/**
 * The same-origin check of every state-changing request, on the site and on
 * the dashboard: a browser names the page a request came from, and a request
 * from another site's page is refused before it changes anything.
 */
import type Koa from 'koa';
import type { SecurityRefusal } from '../middleware/security-log.ts';
import { PageError } from './page-error.ts';

/**
 * False when the request names an origin other than this server's: the
 * `Origin` header, or the `Referer`'s origin when no `Origin` was sent (older
 * browsers). A request with neither (curl, a script) passes: it did not come
 * from a page.
 */
function isSameOrigin(ctx: Koa.Context): boolean {
  // Not ctx.origin: in Koa 3 that is the request's own Origin header.
  const expected = `${ctx.protocol}://${ctx.host}`;
  const origin = ctx.get('Origin');
  if (origin) return origin === expected;
  const referer = ctx.get('Referer');
  if (!referer) return true;
  try {
    return new URL(referer).origin === expected;
  } catch {
    return false;
  }
}

/**
 * Throws a 403 PageError unless the request comes from this server's own pages (or from no page at all);
 * the refusal is a security event that the error answer logs.
 */
export function assertSameOrigin(ctx: Koa.Context): void {
  if (!isSameOrigin(ctx)) {
    const refusal = new PageError(403, 'Refused', 'This request was sent from another site, so it was refused and nothing was changed. Use the forms on this site instead.');
    throw Object.assign(refusal, { securityEvent: 'request.csrf_refused', securityFacts: { reason: 'another origin' } } satisfies SecurityRefusal);
  }
}

/**
 * The site's form posts as middleware. The visitor session cookie is
 * SameSite=Lax, so another site's post would arrive without it anyway; this
 * makes such a post fail loudly instead of acting on a fresh session.
 */
export const requireSameOrigin: Koa.Middleware = async (ctx, next) => {
  assertSameOrigin(ctx);
  await next();
};
