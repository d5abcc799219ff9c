/**
 * The one builder of the reference app for tests: the real `createApp` (so
 * the real wiring: security headers, error pages, static files, the
 * dashboard before the visitor sessions, the site) on a fresh namespace of a
 * real store, with the test settings, every log line captured and every
 * lifecycle event recorded. Optionally listening on a free port of
 * 127.0.0.1, for tests that need real connections.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionRecord, SessionStore, StoreKind } from '../../middleware/store.ts';
import { createApp, type SiteApp } from '../../server/app.ts';
import { signIn } from './dashboard-client.ts';
import { captureLogs, type LogCapture } from './log-capture.ts';
import { createNamespace, type StoreNamespace } from './store-fixtures.ts';
import { cookieHeaderOf, textFileForm } from './upload-forms.ts';
import { testSiteOptions, type SiteOverrides } from './test-settings.ts';

export interface TestAppOptions extends SiteOverrides {
  /**
   * The namespace of another app, as a second server process (or the same one
   * restarted) over the same data; its owner removes it. Default: a fresh one.
   */
  namespace?: StoreNamespace;
  /** A store of the test's own instead of the one the settings name: one that cannot answer, say. */
  store?: SessionStore;
  /** Bound on each store call before a request gets 503 (ms). */
  storeTimeoutMs?: number;
  /** Listen on a free port of 127.0.0.1. */
  listen?: boolean;
}

export interface TestApp extends SiteApp {
  namespace: StoreNamespace;
  /** The store itself, unguarded: where tests put and check sessions. */
  store: SessionStore;
  /** Lifecycle events recorded since the app was built. */
  events: LifecycleEvent[];
  /** Every log line of the app (level `debug`, or `sessions.logLevel`). */
  logs: LogCapture;
  /** A supertest agent: keeps the cookies the app sets. */
  agent(): request.Agent;
  /** Signs an agent (a fresh one by default) in to the dashboard; answers the CSRF token of its admin session. */
  signIn(agent?: request.Agent): Promise<string>;
  /** The stored record of the session whose cookie a response set or a request sent, if it is live. */
  storedSession(cookieHeader: string): Promise<SessionRecord | undefined>;
  /** Stops listening (dropping open connections), closes the app and removes the namespace it created. */
  close(): Promise<void>;
}

export interface ListeningTestApp extends TestApp {
  httpServer: Server;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
}

/** Builds the app on `kind` with the test settings and `options` over them; see TestAppOptions. */
export async function createTestApp(kind: StoreKind, options: TestAppOptions & { listen: true }): Promise<ListeningTestApp>;
export async function createTestApp(kind: StoreKind, options?: TestAppOptions): Promise<TestApp>;
export async function createTestApp(kind: StoreKind, options: TestAppOptions = {}): Promise<TestApp | ListeningTestApp> {
  const ownNamespace = !options.namespace;
  const namespace = options.namespace ?? (await createNamespace(kind));
  if (namespace.kind !== kind) throw new Error(`a ${kind} app on a ${namespace.kind} namespace`);
  const logs = captureLogs(options.sessions?.logLevel ?? 'debug');
  const site = await createApp(testSiteOptions(namespace, options), { logger: logs.logger, store: options.store, storeTimeoutMs: options.storeTimeoutMs }).catch(
    async (err: unknown) => {
      // A store left open (a Redis client reconnecting forever) would keep the test process from ever exiting.
      await options.store?.close();
      if (ownNamespace) await namespace.remove();
      throw err;
    },
  );
  const events: LifecycleEvent[] = [];
  site.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
  const cookieName = site.sessions.config.cookieName;
  const adminPath = options.admin?.path ?? '/admin';
  const app: TestApp = {
    ...site,
    namespace,
    store: site.sessions.store.inner,
    events,
    logs,
    agent: () => request.agent(site.app.callback()),
    signIn: (agent = app.agent()) => signIn(agent, { path: adminPath }),
    storedSession: async (cookieHeader) => {
      const rawId = new RegExp(`(?:^|;\\s*)${cookieName}=([^;]+)`).exec(cookieHeader)?.[1];
      return rawId ? site.sessions.store.get(publicIdOf(rawId), Date.now()) : undefined;
    },
    async close() {
      await site.close();
      if (ownNamespace) await namespace.remove();
    },
  };
  if (!options.listen) return app;

  const httpServer = site.app.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const { port } = httpServer.address() as AddressInfo;
  return {
    ...app,
    httpServer,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = once(httpServer, 'close');
      httpServer.close();
      httpServer.closeAllConnections();
      await closed;
      await app.close();
    },
  };
}

/** The site listening on 127.0.0.1, and a visitor who already holds one upload. */
export interface SiteWithUpload {
  site: ListeningTestApp;
  /** The Cookie header of the visitor whose upload, `kept line`, every refusal must leave in place. */
  cookie: string;
}

/** The site on the file store with `options`, listening (for raw or chunked bodies), and a visitor with an upload. */
export async function startSiteWithUpload(options: TestAppOptions = {}): Promise<SiteWithUpload> {
  const site = await createTestApp('file', { ...options, listen: true });
  const form = textFileForm('kept line\n');
  const cookie = cookieHeaderOf(await request(site.httpServer).post('/').set('Content-Type', form.contentType).send(form.body).expect(303));
  return { site, cookie };
}
