/**
 * A minimal Koa app around the session middleware, for middleware tests:
 * routes that read, write, end and regenerate the session, with every log
 * line captured so tests can check what reaches the logs.
 */
import { Writable } from 'node:stream';
import Koa from 'koa';
import pino from 'pino';
import { createSessionkeeper, type Sessionkeeper } from '../../middleware/sessionkeeper.ts';
import { endSession, regenerateSession } from '../../middleware/koa-store-adapter.ts';
import type { SessionkeeperOptions } from '../../middleware/config.ts';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { createNamespace, type StoreNamespace } from './store-fixtures.ts';

export interface SessionApp {
  app: Koa;
  sessions: Sessionkeeper;
  namespace: StoreNamespace;
  /** Every log line written so far, as text. */
  logText(): string;
  /** Resolves once a request is parked on `POST /wait` (one at a time). */
  parked(): Promise<void>;
  /** Lets the parked request finish. */
  release(): void;
  close(): Promise<void>;
}

/** At least 32 characters each, as production requires. */
export const TEST_KEYS = ['test-key-newest-0123456789abcdefgh', 'test-key-older-0123456789abcdefgh'];

export async function createSessionApp(kind: StoreKind, options: SessionkeeperOptions = {}, store?: SessionStore): Promise<SessionApp> {
  const namespace = await createNamespace(kind);
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
  const app = new Koa();
  const sessions = await createSessionkeeper(
    app,
    { store: kind, keys: TEST_KEYS, sweepIntervalMs: 3_600_000, ...namespace.settings, ...options },
    { logger, store: store ?? namespace.open() },
  );
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
      case 'POST /wait':
        // Loads the session, then waits until the test releases it: a request in flight.
        void session.toJSON();
        await new Promise<void>((resolve) => {
          parked = resolve;
          parkedReady!();
        });
        if (ctx.query.write) session.late = ctx.query.write;
        ctx.status = 204;
        return;
      default:
        ctx.status = 404;
    }
  });
  return {
    app,
    sessions,
    namespace,
    logText: () => lines.join(''),
    parked: () => parkedSignal,
    release: () => parked?.(),
    async close() {
      await sessions.close();
      await namespace.remove();
    },
  };
}
