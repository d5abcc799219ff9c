import Koa from 'koa';
import { createSessionkeeper, type Sessionkeeper, type SessionkeeperDependencies } from '../middleware/index.ts';
import { createAdmin } from '../admin/index.ts';
import { AdminPaths } from '../admin/paths.ts';
import { securityHeaders } from '../web/security-headers.ts';
import { PUBLIC_DIR, staticAssets } from '../web/static-assets.ts';
import { errorPages } from './error-pages.ts';
import { healthCheck } from './health-check.ts';
import { httpsOnly } from '../web/https-only.ts';
import { resolveServerSettings, resolveSiteAdminSettings, type ServerSettings, type SiteOptions } from './settings.ts';
import { siteRoutes } from './site-routes.ts';
import { createPageRenderer } from './views.ts';

/** The reference application, built and ready to listen. */
export interface SiteApp {
  /** The Koa application: `app.callback()` for tests, `app.listen()` in main.ts. */
  app: Koa;
  /** The sessionkeeper instance: its store, events, sweeper and logger. */
  sessions: Sessionkeeper;
  /** The server's own settings (where to listen, the upload limit). */
  server: ServerSettings;
  /** Ends long-lived responses (the dashboard's event streams) so that the HTTP server can close. */
  beginShutdown(): void;
  /** Stops the sweeper and closes the store; call after the HTTP server has stopped. */
  close(): Promise<void>;
}

/**
 * Builds the upload site: security headers, error pages, static files, the
 * health check, (in production) the HTTPS check, the dashboard (mounted as
 * any app would mount it), then the visitor session middleware and the site
 * routes. Nothing mounted before the session middleware creates or touches a
 * visitor session. Never listens: tests drive `app.callback()`, `main.ts`
 * listens.
 */
export async function createApp(options: SiteOptions, deps: SessionkeeperDependencies = {}): Promise<SiteApp> {
  // Every setting is checked before the store is opened: a wrong one must not leave a client reconnecting.
  const server = resolveServerSettings(options.server);
  const admin = resolveSiteAdminSettings(options.admin);
  const app = new Koa();
  // Behind one trusted proxy, the client is the address that proxy appended, not whatever the client put first.
  app.proxy = server.trustProxy;
  if (server.trustProxy) app.maxIpsCount = 1;
  const sessions = await createSessionkeeper(app, options.sessions, deps);
  const { production } = sessions.config;
  const renderPage = createPageRenderer({ cacheTemplates: production });
  const site = siteRoutes(sessions.config, server, renderPage, sessions);
  const shutdown = new AbortController();

  app.use(securityHeaders({ production }));
  app.use(errorPages(sessions.logger, sessions.securityLog, renderPage, new AdminPaths(admin.path)));
  app.use(staticAssets(PUBLIC_DIR, '/static/'));
  app.use(healthCheck(sessions.store));
  if (production) app.use(httpsOnly(sessions.logger));
  app.use(createAdmin(sessions, { ...admin, shutdownSignal: shutdown.signal }));
  app.use(sessions.middleware);
  app.use(site.routes());
  app.use(site.allowedMethods());

  // Errors the error pages cannot catch (a response stream failing mid-way) still reach the log.
  app.on('error', (err: Error & { code?: string }, ctx?: Koa.Context) => {
    // A client closing a streamed response (the dashboard's live feed, say) is routine, not a failure.
    const level = err.code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'debug' : 'error';
    sessions.logger[level]({ err, method: ctx?.method, path: ctx?.path }, 'response failed');
  });
  return { app, sessions, server, beginShutdown: () => shutdown.abort(), close: () => sessions.close() };
}
