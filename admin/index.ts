/**
 * `sessionkeeper/admin`: the operator dashboard and its JSON API, as one Koa
 * middleware answering every path under its prefix (`/admin` unless told
 * otherwise) in any Koa app. It brings everything it needs: its templates, its
 * stylesheets and script (under `<prefix>/static/`), its security headers and
 * its error answers, whatever the host app sets. Mount it before the visitor
 * session middleware, so that no dashboard request creates or touches a
 * visitor session.
 */
import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import { withStoreBudget } from '../middleware/guarded-store.ts';
import { StoreUnavailableError } from '../middleware/store.ts';
import { answerErrors, type Problem } from '../web/error-answers.ts';
import type { Render } from '../web/render.ts';
import { securityHeaderValues } from '../web/security-headers.ts';
import { PUBLIC_DIR, staticAssets } from '../web/static-assets.ts';
import { AdminSessions } from './admin-session.ts';
import { addApiRoutes } from './api-routes.ts';
import { addMetricsRoutes } from './metrics-routes.ts';
import { AdminAuth } from './auth.ts';
import { LoginTokens } from './csrf.ts';
import { addDashboardRoutes } from './dashboard-routes.ts';
import { EventStreams } from './event-stream.ts';
import { FailureLimiter } from './failure-limiter.ts';
import { addLoginRoutes } from './login-routes.ts';
import { AdminPaths } from './paths.ts';
import { createDashboardRenderer } from './render.ts';
import { type AdminSettings, checkStreamTimings, resolveAdminSettings } from './settings.ts';

export { adminOptionsFromEnv, type AdminSettings } from './settings.ts';

/** The store namespace of the dashboard's sign-ins and failure counts. */
const ADMIN_NAMESPACE = 'admin';

/** What `createAdmin` takes besides the sessions; every option has a default. */
export interface AdminOptions extends Partial<AdminSettings> {
  /** Aborted when the server starts shutting down: live event streams end so the server can close. */
  shutdownSignal?: AbortSignal;
  /** Interval of the live event streams' keep-alive comment, at which each also checks its sign-in again (default 25 s; 10 ms to 1 h). */
  streamHeartbeatMs?: number;
  /** How often the live event streams read the shared event log for new events (default 1 s; 10 ms to 60 s). */
  streamPollMs?: number;
}

/**
 * Builds the dashboard middleware for a running sessionkeeper:
 *
 * ```js
 * app.use(createAdmin(sessions, { path: '/ops/sessions', user: 'ops', password: process.env.ADMIN_PASSWORD }));
 * app.use(sessions.middleware);
 * ```
 *
 * Paths outside `path` go to `next()`. Without a password every dashboard
 * route answers 503 saying how to set one: there is no default password, and
 * 503 (not 401) because no credentials could succeed until it is configured.
 *
 * @throws ConfigError when an option is not valid (a path that is not a path prefix, a password under 8 characters).
 */
export function createAdmin(sessions: SessionkeeperCore, options: AdminOptions = {}): Middleware {
  const settings = resolveAdminSettings(options);
  checkStreamTimings(options);
  const { production } = sessions.config;
  const paths = new AdminPaths(settings.path);
  const render = createDashboardRenderer({ cacheTemplates: production, paths });
  const assets = staticAssets(PUBLIC_DIR, paths.at('/static/'));
  // No HSTS: it would bind the host app's whole domain (and its subdomains) to HTTPS, which is the app's call.
  const headers = { ...securityHeaderValues({ production, strictTransportSecurity: false }), 'Cache-Control': 'no-store' };
  const errorAnswers = answerErrors({
    logger: sessions.logger,
    securityLog: sessions.securityLog,
    wantsJson: (path) => paths.isForScripts(path),
    renderPage: (ctx, problem) => render(ctx, 'error', { title: problem.title, status: problem.status, message: problem.message }, problem.status),
    describe: storeProblem,
  });
  const handle = settings.password
    ? createDashboard(sessions, { ...settings, password: settings.password }, paths, render, options)
    : (ctx: Context) => answerSetupNeeded(ctx, paths, render);

  return async function admin(ctx: Context, next: Next): Promise<void> {
    if (!paths.contains(ctx.path)) return next();
    // Dashboard answers show who is signed in and what sessions exist: never cache them (assets say otherwise).
    ctx.set(headers);
    ctx.remove('X-Powered-By');
    // One store-time budget for the whole page (stats, list, next expiry): a 503 within 5 s.
    await withStoreBudget(() => errorAnswers(ctx, () => assets(ctx, () => handle(ctx))));
  };
}

function createDashboard(
  sessions: SessionkeeperCore,
  settings: AdminSettings & { password: string },
  paths: AdminPaths,
  render: Render,
  options: AdminOptions,
): (ctx: Context) => Promise<void> {
  const { config } = sessions;
  const { user, password } = settings;
  // Sign-ins and failure counts live in the configured store, in a namespace of their own: every process
  // and a restart see the same sign-outs and lockouts.
  const adminStore = sessions.namespace(ADMIN_NAMESPACE);
  void adminStore.init().catch(() => undefined); // logged by the guard; the store retries on use
  const adminSessions = new AdminSessions({ user, password, keys: config.keys, secure: config.production, cookiePath: paths.base, store: adminStore });
  const auth = new AdminAuth({ user, password }, adminSessions, new FailureLimiter(adminStore), sessions.securityLog, paths.at('/login'));
  const router = new Router();
  addApiRoutes(router, paths, sessions, auth);
  addMetricsRoutes(router, paths, sessions, auth);
  addLoginRoutes(router, paths, auth, new LoginTokens(config.production, paths.base), render);
  const streams = new EventStreams(sessions.eventLog, adminSessions, sessions.logger, {
    shutdownSignal: options.shutdownSignal,
    heartbeatMs: options.streamHeartbeatMs,
    pollMs: options.streamPollMs,
  });
  addDashboardRoutes(router, paths, sessions, auth, render, streams);
  // The router adds `params` to the context it is given; to Koa it is a plain middleware.
  const routes = router.routes() as Middleware;
  // Without `throw`, the router sets 405 with the Allow header; the page or JSON is written by the error answers.
  const allowedMethods = router.allowedMethods() as Middleware;
  return async (ctx) => {
    await routes(ctx, () => allowedMethods(ctx, async () => undefined));
    if (ctx.body != null) return;
    if (ctx.status === 405 || ctx.status === 501) ctx.throw(ctx.status, `This address does not accept ${ctx.method} requests.`);
    ctx.throw(404, 'There is no such dashboard page.');
  };
}

/**
 * An operator is told exactly why the store did not answer: not reachable, or a purge still running in the
 * background (which is not an outage). Those messages are written for the client and name no location.
 */
function storeProblem(err: unknown): Problem | undefined {
  if (!(err instanceof StoreUnavailableError)) return undefined;
  return { status: 503, title: 'Sessions are unavailable', message: `${err.message} Try again in a moment.` };
}

async function answerSetupNeeded(ctx: Context, paths: AdminPaths, render: Render): Promise<void> {
  const message =
    'The dashboard is disabled because it has no password. Set ADMIN_PASSWORD (at least 8 characters) in the server\'s environment ' +
    "and restart it; an app that mounts the dashboard itself passes it as createAdmin's password option.";
  if (paths.isForScripts(ctx.path)) {
    ctx.status = 503;
    ctx.body = { error: message };
    return;
  }
  await render(ctx, 'setup', { title: 'Dashboard not configured', message }, 503);
}
