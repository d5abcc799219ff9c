import Koa from 'koa';
import type { SessionkeeperConfig } from '../middleware/config.ts';
import { createSessionkeeper, type Sessionkeeper, type SessionkeeperDependencies } from '../middleware/sessionkeeper.ts';
import { createAdmin } from '../admin/index.ts';
import { errorPages } from './error-pages.ts';
import { healthCheck } from './health-check.ts';
import { securityHeaders } from './security-headers.ts';
import { siteRoutes } from './site-routes.ts';
import { staticAssets } from './static-assets.ts';

/** The reference application, built and ready to listen. */
export interface SiteApp {
  app: Koa;
  sessions: Sessionkeeper;
  /** Ends long-lived responses (the dashboard's event streams) so that the HTTP server can close. */
  beginShutdown(): void;
  /** Stops the sweeper and closes the store; call after the HTTP server has stopped. */
  close(): Promise<void>;
}

/**
 * Builds the upload site: security headers, error pages, static files, the
 * health check, the dashboard, then the visitor session middleware and the
 * site routes. Nothing mounted before the session middleware creates or
 * touches a visitor session. Never listens: tests drive `app.callback()`,
 * `main.ts` listens.
 */
export async function createApp(config: SessionkeeperConfig, deps: SessionkeeperDependencies = {}): Promise<SiteApp> {
  const app = new Koa();
  const assets = await staticAssets();
  const sessions = await createSessionkeeper(app, config, deps);
  const site = siteRoutes(config);
  const shutdown = new AbortController();

  app.use(securityHeaders({ production: config.production }));
  app.use(errorPages(sessions.logger));
  app.use(assets);
  app.use(healthCheck(sessions.store));
  app.use(createAdmin(sessions, { shutdownSignal: shutdown.signal }));
  app.use(sessions.middleware);
  app.use(site.routes());
  app.use(site.allowedMethods());

  // Errors the error pages cannot catch (a response stream failing mid-way) still reach the log.
  app.on('error', (err: Error, ctx?: Koa.Context) => {
    sessions.logger.error({ err, method: ctx?.method, path: ctx?.path }, 'response failed');
  });
  return { app, sessions, beginShutdown: () => shutdown.abort(), close: () => sessions.close() };
}
