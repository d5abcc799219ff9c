/**
 * A minimal Koa app around the bare session middleware, for middleware tests
 * that need no site: routes that read, write, end and regenerate the session.
 * Built like the test app (`test-app.ts`): a namespace, the test settings and
 * a log capture from the shared helpers.
 */
import Koa from 'koa';
import type { SessionkeeperOptions } from '../../middleware/config.ts';
import { endSession, regenerateSession, sessionOwner, sessionPublicId, setSessionOwner } from '../../middleware/koa-store-adapter.ts';
import { createSessionkeeper, type Sessionkeeper } from '../../middleware/sessionkeeper.ts';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { captureLogs, type LogCapture } from './log-capture.ts';
import { createNamespace, type StoreNamespace } from './store-fixtures.ts';
import { testSessionOptions } from './test-settings.ts';

export interface SessionApp {
  app: Koa;
  sessions: Sessionkeeper;
  namespace: StoreNamespace;
  /** Every log line of the middleware, at `debug`. */
  logs: LogCapture;
  /** Resolves once a request is parked on `POST /wait` (one at a time). */
  parked(): Promise<void>;
  /** Lets the parked request finish. */
  release(): void;
  /** Closes the middleware and removes the namespace it created. */
  close(): Promise<void>;
}

export interface SessionAppOptions {
  /** The library's settings over the test defaults. */
  sessions?: SessionkeeperOptions;
  /** A namespace the test made (and removes), for a store of its own on it. Default: a fresh one. */
  namespace?: StoreNamespace;
  /** A store of the test's own instead of the one the settings name: one that cannot answer, or a faulty one. */
  store?: SessionStore;
  /** Likewise for the previous store of a backend switch (the settings still name its kind). */
  previousStore?: SessionStore;
  /** Bound on each store call before a request gets 503 (ms). */
  storeTimeoutMs?: number;
  /** Koa's `app.proxy`: trust X-Forwarded-* of a TLS proxy, as an app behind one does. */
  proxy?: boolean;
}

export async function createSessionApp(kind: StoreKind, options: SessionAppOptions = {}): Promise<SessionApp> {
  const namespace = options.namespace ?? (await createNamespace(kind));
  if (namespace.kind !== kind) throw new Error(`a ${kind} app on a ${namespace.kind} namespace`);
  const logs = captureLogs('debug');
  const app = new Koa();
  app.proxy = options.proxy ?? false;
  const sessions = await createSessionkeeper(app, testSessionOptions(namespace, options.sessions), {
    logger: logs.logger,
    store: options.store,
    previousStore: options.previousStore,
    storeTimeoutMs: options.storeTimeoutMs,
  });
  let parked: (() => void) | undefined;
  let parkedReady: (() => void) | undefined;
  const parkedSignal = new Promise<void>((resolve) => (parkedReady = resolve));

  app.use(sessions.middleware);
  app.use(async (ctx) => {
    const session = ctx.session!;
    switch (`${ctx.method} ${ctx.path}`) {
      case 'GET /read':
        ctx.body = { data: session.toJSON() };
        return;
      case 'POST /write':
        for (const [key, value] of Object.entries(ctx.query)) session[key] = value;
        ctx.body = { data: session.toJSON() };
        return;
      case 'POST /forget':
        endSession(ctx, 'user');
        ctx.status = 204;
        return;
      case 'POST /regenerate':
        await regenerateSession(ctx);
        ctx.body = { data: ctx.session!.toJSON() };
        return;
      case 'POST /owner':
        // Signs in as ?owner=… (the value as sent, so a test can send any string).
        await setSessionOwner(ctx, ctx.query.owner as string);
        ctx.body = { data: ctx.session!.toJSON(), owner: sessionOwner(ctx), id: sessionPublicId(ctx) };
        return;
      case 'GET /whoami':
        void session.toJSON();
        ctx.body = { owner: sessionOwner(ctx) ?? null, id: sessionPublicId(ctx) ?? null };
        return;
      case 'POST /end-others':
        ctx.body = { ended: await sessions.endOwnerSessions(sessionOwner(ctx)!, { except: ctx, by: 'user' }) };
        return;
      case 'POST /wait':
        // Loads the session, then waits until the test releases it: a request in flight.
        void session.toJSON();
        await new Promise<void>((resolve) => {
          parked = resolve;
          parkedReady!();
        });
        if (ctx.query.write) session.late = ctx.query.write;
        // What the request does once released: a regeneration, or a sign-in as ?then=owner:<name>.
        if (ctx.query.then === 'regenerate') await regenerateSession(ctx);
        if (typeof ctx.query.then === 'string' && ctx.query.then.startsWith('owner:')) await setSessionOwner(ctx, ctx.query.then.slice('owner:'.length));
        if (!ctx.query.then) {
          ctx.status = 204;
          return;
        }
        ctx.body = { data: ctx.session?.toJSON() ?? null, owner: sessionOwner(ctx) ?? null };
        return;
      default:
        ctx.status = 404;
    }
  });
  return {
    app,
    sessions,
    namespace,
    logs,
    parked: () => parkedSignal,
    release: () => parked?.(),
    async close() {
      await sessions.close();
      if (!options.namespace) await namespace.remove();
    },
  };
}
