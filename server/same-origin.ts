import type Koa from 'koa';
import { PageError } from './page-error.ts';

/**
 * Refuses a form post that a browser says came from another origin. The
 * session cookie is SameSite=Lax, so another site's post would arrive without
 * it anyway; this makes such a post fail loudly instead of acting on a fresh
 * session. Requests without an Origin header (scripts, old browsers) pass.
 */
export const requireSameOrigin: Koa.Middleware = async (ctx, next) => {
  const origin = ctx.get('Origin');
  // Koa 3's `ctx.origin` is the request's Origin header, not this site's origin.
  if (origin && origin !== `${ctx.protocol}://${ctx.host}`) {
    throw new PageError(403, 'Refused', 'This form was sent from another site, so it was refused. Use the form on this site instead.');
  }
  await next();
};
