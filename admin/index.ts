/**
 * The operator dashboard and its JSON API (SPEC.md, "Operator dashboard"):
 * one Koa middleware answering every path under /admin, mounted before the
 * visitor session middleware so that no admin request creates or touches a
 * visitor session.
 */
import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import type { Sessionkeeper } from '../middleware/sessionkeeper.ts';
import { withStoreBudget } from '../middleware/guarded-store.ts';
import { wantsJson } from '../server/error-answers.ts';
import type { Render } from '../server/views.ts';
import { AdminSessions } from './admin-session.ts';
import { addApiRoutes } from './api-routes.ts';
import { AdminAuth } from './auth.ts';
import { LoginTokens } from './csrf.ts';
import { addDashboardRoutes } from './dashboard-routes.ts';
import { answerErrors } from './errors.ts';
import { EventStreams } from './event-stream.ts';
import { FailureLimiter } from './failure-limiter.ts';
import { addLoginRoutes } from './login-routes.ts';
import { createDashboardRenderer } from './render.ts';

/** The store namespace of the dashboard's sign-ins and failure counts. */
const ADMIN_NAMESPACE = 'admin';

/** True for `/admin` and everything under `/admin/`. */
function isAdminPath(path: string): boolean {
  return path === '/admin' || path.startsWith('/admin/');
}

/** What `createAdmin` may be given besides the sessions; every option has a default. */
export interface AdminOptions {
  /** Aborted when the server starts shutting down: live event streams end so the server can close. */
  shutdownSignal?: AbortSignal;
  /** Interval of the live event streams' keep-alive comment, at which each also checks its sign-in again (default 25 s). */
  streamHeartbeatMs?: number;
}

/**
 * Builds the dashboard middleware. Paths outside /admin go to `next()`.
 * Without ADMIN_PASSWORD every dashboard route answers 503 with how to set
 * one: there is no default password, and 503 (not 401) because no
 * credentials could succeed until the server is configured.
 */
export function createAdmin(sessions: Sessionkeeper, options: AdminOptions = {}): Middleware {
  const { config } = sessions;
  const render = createDashboardRenderer({ cacheTemplates: config.production });
  const handle = config.adminPassword
    ? createDashboard(sessions, config.adminPassword, render, options)
    : (ctx: Context) => answerSetupNeeded(ctx, render);

  return async function admin(ctx: Context, next: Next): Promise<void> {
    if (!isAdminPath(ctx.path)) return next();
    // Dashboard answers show who is signed in and what sessions exist: never cache them.
    ctx.set('Cache-Control', 'no-store');
    // One store-time budget for the whole page (stats, list, next expiry): a 503 within 5 s.
    await withStoreBudget(() => answerErrors(ctx, sessions.logger, sessions.securityLog, render, () => handle(ctx)));
  };
}

function createDashboard(sessions: Sessionkeeper, password: string, render: Render, options: AdminOptions): (ctx: Context) => Promise<void> {
  const { config } = sessions;
  // Sign-ins and failure counts live in the configured store, in a namespace of their own: every process
  // and a restart see the same sign-outs and lockouts.
  const adminStore = sessions.namespace(ADMIN_NAMESPACE);
  void adminStore.init().catch(() => undefined); // logged by the guard; the store retries on use
  const adminSessions = new AdminSessions({ user: config.adminUser, password, keys: config.keys, secure: config.production, store: adminStore });
  const auth = new AdminAuth({ user: config.adminUser, password }, adminSessions, new FailureLimiter(adminStore), sessions.securityLog);
  const router = new Router();
  addApiRoutes(router, sessions, auth);
  addLoginRoutes(router, auth, new LoginTokens(config.production), render);
  const streams = new EventStreams(sessions.events, adminSessions, { shutdownSignal: options.shutdownSignal, heartbeatMs: options.streamHeartbeatMs });
  addDashboardRoutes(router, sessions, auth, render, streams);
  // The router adds `params` to the context it is given; to Koa it is a plain middleware.
  const routes = router.routes() as Middleware;
  // Without `throw`, the router sets 405 with the Allow header; the page or JSON is written below.
  const allowedMethods = router.allowedMethods() as Middleware;
  return async (ctx) => {
    await routes(ctx, () => allowedMethods(ctx, async () => undefined));
    if (ctx.body != null) return;
    if (ctx.status === 405 || ctx.status === 501) ctx.throw(ctx.status, `This address does not accept ${ctx.method} requests.`);
    ctx.throw(404, 'There is no such dashboard page.');
  };
}

async function answerSetupNeeded(ctx: Context, render: Render): Promise<void> {
  const message = 'The dashboard is disabled because ADMIN_PASSWORD is not set. Set ADMIN_PASSWORD (at least 8 characters; ADMIN_USER defaults to admin) in the server\'s environment and restart it.';
  if (wantsJson(ctx.path)) {
    ctx.status = 503;
    ctx.body = { error: message };
    return;
  }
  await render(ctx, 'setup', { title: 'Dashboard not configured', message }, 503);
}
