import type Koa from 'koa';
import type { SessionStore } from '../middleware/store.ts';
import { StoreUnavailableError } from '../middleware/store.ts';
import { PageError } from '../web/page-error.ts';

/**
 * `GET /healthz`: `200 {store, healthy: true}` when the session store answers,
 * `503 {store, healthy: false}` when it does not. Mounted before the session
 * middleware, so probes never create or touch a session.
 */
export function healthCheck(store: SessionStore): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/healthz') return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      throw new PageError(405, 'Method not allowed', 'Use GET.');
    }
    ctx.set('Cache-Control', 'no-store');
    try {
      await store.ping();
      ctx.body = { store: store.kind, healthy: true };
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      ctx.status = 503;
      ctx.body = { store: store.kind, healthy: false };
    }
  };
}
