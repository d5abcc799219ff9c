/**
 * `sessionkeeper dashboard`: the operator dashboard served on its own over
 * the configured store, for operators whose application does not mount it.
 * `/` redirects to the dashboard's path; it sweeps expired sessions while it
 * runs, and stops gracefully on SIGINT or SIGTERM (exit status 0).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createAdmin } from '../admin/index.ts';
import { adminOptionsFromEnv, resolveAdminSettings } from '../admin/settings.ts';
import type { Env } from '../middleware/settings.ts';
import { shutDownGracefully } from '../web/graceful-shutdown.ts';
import { httpsOnly } from '../web/https-only.ts';
import { assertServableOverHttp, loadListenSettings, urlOf } from '../web/listen-settings.ts';
import { securityHeaders } from '../web/security-headers.ts';
import { UsageError } from './errors.ts';
import { closeWithin, loadCliConfig, openCliSessions } from './open-sessions.ts';

/** Serves until a signal stops it; resolves once it has stopped and closed the store. Throws ConfigError or UsageError before opening anything. */
export async function serveDashboard(env: Env, stdout: NodeJS.WritableStream): Promise<void> {
  // Every setting is checked before the store is opened.
  const config = loadCliConfig(env, { signsCookies: true });
  const listen = loadListenSettings(env);
  const admin = resolveAdminSettings(adminOptionsFromEnv(env));
  if (!admin.password) throw new UsageError('the dashboard needs a password: set ADMIN_PASSWORD (at least 8 characters), and ADMIN_USER unless it is admin', 'sessionkeeper dashboard');
  assertServableOverHttp(config.production, listen.trustProxy);

  const sessions = await openCliSessions(config);
  const { logger } = sessions;
  if (config.keysGenerated) {
    logger.warn('SESSION_KEYS is not set: sign-in cookies are signed with a random key, so operators sign in again after a restart');
  }
  const app = new Koa();
  // The sign-in form's cookies are signed with the app's keys, as in an app that mounts the dashboard.
  app.keys = config.keys;
  app.proxy = listen.trustProxy;
  if (listen.trustProxy) app.maxIpsCount = 1;
  const shutdown = new AbortController();
  // No HSTS, as the dashboard mounted in an app: it would bind every service on this host name to HTTPS.
  app.use(securityHeaders({ production: config.production, strictTransportSecurity: false }));
  // Production cookies are Secure: a request that bypassed the TLS proxy is refused with the reason, not a 500.
  if (config.production) app.use(httpsOnly(logger));
  app.use(async (ctx, next) => (ctx.path === '/' ? ctx.redirect(admin.path) : next()));
  app.use(createAdmin(sessions, { ...admin, shutdownSignal: shutdown.signal }));
  app.on('error', (err: Error & { code?: string }) => {
    if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE') logger.error({ err }, 'response failed');
  });

  const server = app.listen(listen.port, listen.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    await closeWithin(sessions);
    throw new Error(`cannot listen on ${listen.host}:${listen.port}: ${(err as Error).message}`);
  }
  sessions.sweeper.start();
  const stopped = new Promise<void>((resolve) => {
    shutDownGracefully(server, { beginShutdown: () => shutdown.abort(), close: () => closeWithin(sessions).then(resolve) }, logger);
  });
  const { port } = server.address() as AddressInfo;
  stdout.write(`dashboard listening on ${urlOf(listen.host, port)}${admin.path} (sessions in the ${sessions.store.kind} store at ${sessions.store.location})\n`);
  await stopped;
}
