import Koa from 'koa';
import type { SessionkeeperConfig } from '../middleware/config.ts';
import { createSessionkeeper, type Sessionkeeper, type SessionkeeperDependencies } from '../middleware/sessionkeeper.ts';
import { createAdmin } from '../admin/index.ts';
import { errorPages } from './error-pages.ts';
import { healthCheck } from './health-check.ts';
import { httpsOnly } from './https-only.ts';
import { securityHeaders } from './security-headers.ts';
import { siteRoutes } from './site-routes.ts';
import { staticAssets } from './static-assets.ts';
import { createPageRenderer } from './views.ts';

/** The reference application, built and ready to listen. */
export interface SiteApp {
  /** The Koa application: `app.callback()` for tests, `app.listen()` in main.ts. */
  app: Koa;
  /** The sessionkeeper instance: its store, events, sweeper and logger. */
  sessions: Sessionkeeper;
  /** Ends long-lived responses (the dashboard's event streams) so that the HTTP server can close. */
  beginShutdown(): void;
  /** Stops the sweeper and closes the store; call after the HTTP server has stopped. */
  close(): Promise<void>;
}

/**
 * Builds the upload site: security headers, error pages, static files, the
 * health check, (in production) the HTTPS check, the dashboard, then the
 * visitor session middleware and the site routes. Nothing mounted before the session middleware creates or
 * touches a visitor session. Never listens: tests drive `app.callback()`,
 * `main.ts` listens.
 */
export async function createApp(config: SessionkeeperConfig, deps: SessionkeeperDependencies = {}): Promise<SiteApp> {
  const app = new Koa();
  const assets = await staticAssets();
  const sessions = await createSessionkeeper(app, config, deps);
  const renderPage = createPageRenderer({ cacheTemplates: config.production });
  const site = siteRoutes(config, renderPage);
  const shutdown = new AbortController();

  app.use(securityHeaders({ production: config.production }));
  app.use(errorPages(sessions.logger, sessions.securityLog, renderPage));
  app.use(assets);
  app.use(healthCheck(sessions.store));
  if (config.production) app.use(httpsOnly(sessions.logger));
  app.use(createAdmin(sessions, { shutdownSignal: shutdown.signal }));
  app.use(sessions.middleware);
  app.use(site.routes());
  app.use(site.allowedMethods());

  // Errors the error pages cannot catch (a response stream failing mid-way) still reach the log.
  app.on('error', (err: Error & { code?: string }, ctx?: Koa.Context) => {
    // A client closing a streamed response (the dashboard's live feed, say) is routine, not a failure.
    const level = err.code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'debug' : 'error';
    sessions.logger[level]({ err, method: ctx?.method, path: ctx?.path }, 'response failed');
  });
  return { app, sessions, beginShutdown: () => shutdown.abort(), close: () => sessions.close() };
}
