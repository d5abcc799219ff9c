import type Koa from 'koa';
import type { Logger } from '../middleware/logger.ts';
import { PageError } from './page-error.ts';

/**
 * Production pages are HTTPS only. There every cookie of the site and the
 * dashboard is `Secure`, and Koa refuses to send one over plain HTTP: each
 * such request would fail with 500 (after its session was written). A request
 * that reaches the pages over plain HTTP (the TLS proxy bypassed, or
 * TRUST_PROXY not set behind it) is refused with 403 and the reason instead,
 * and the operator is told once in the log. Mounted after the static files and
 * the health check, which stay reachable over HTTP for probes.
 */
export function httpsOnly(logger: Logger): Koa.Middleware {
  let told = false;
  return async (ctx, next) => {
    if (ctx.secure) return next();
    if (!told) {
      told = true;
      logger.warn(
        { method: ctx.method, path: ctx.path },
        'a request reached the pages over plain HTTP in production and was refused with 403: serve the site over HTTPS (behind a TLS proxy, set TRUST_PROXY=true)',
      );
    }
    throw new PageError(403, 'HTTPS only', 'This site only works over HTTPS: open it with an https:// address.');
  };
}
