/**
 * The Prometheus scrape address (the README's "Metrics"): sessionkeeper's
 * metrics in the text exposition format, behind the JSON API's authentication.
 */
import type Router from '@koa/router';
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import type { AdminAuth } from './auth.ts';
import type { AdminPaths } from './paths.ts';

/** Adds `GET <prefix>/metrics`: HTTP Basic (a scraper's `basic_auth`) or the signed-in admin cookie. */
export function addMetricsRoutes(router: Router, paths: AdminPaths, sessions: SessionkeeperCore, auth: AdminAuth): void {
  router.get(paths.at('/metrics'), auth.requireApi, async (ctx) => {
    const { registry } = sessions.metrics;
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
}
