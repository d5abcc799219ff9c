/**
 * sessionkeeper with all its guarantees on (compiled: see library.ts), on the store named by argv[2]
 * (`redis`, `postgres` or `file`), in the run's namespace. Lifecycle events are
 * logged as in production (JSON lines), into /dev/null, and appended to the
 * store's shared event log; with argv[3] `events-in-memory` the store is one
 * that keeps no log, so they stay in this process's memory instead (what
 * sessionkeeper did before it had the shared log). With argv[3]
 * `touch-every-request`, SESSION_TOUCH_AFTER=0: every read rolls the session
 * (a store write, the cookie re-sent), as before the rolling granularity. With `sign-in` among the
 * arguments, `POST /sign-in?owner=…` creates a session as `POST /new` does and names its owner with
 * `setSessionOwner`, as an app's sign-in route does (the owner benchmark's sessions). The sweeper runs only
 * when the orchestrator asks (`sweep`), so a benchmark never races it; `list`
 * and `count` time the dashboard's store calls inside this process.
 */
import Koa from 'koa';
import pino from 'pino';
import type { ListSort, SessionStore, StoreKind } from '../../middleware/store.ts';
import { createLogger, createSessionkeeper, createStore, resolveConfig, setSessionOwner } from './library.ts';
import { benchNamespace, COOKIE_SECRET, DATABASE_URL, REDIS_URL, serve, sessionPayload, SESSION_TTL_MS } from './harness.ts';
import { sessionRoutes } from './koa-routes.ts';

const HOUR_MS = 3_600_000;
const kind = process.argv[2] as StoreKind;
const eventsInMemory = process.argv[3] === 'events-in-memory';
const touchEveryRequest = process.argv[3] === 'touch-every-request';
const signIn = process.argv.slice(3).includes('sign-in');
const namespace = benchNamespace();
// The stream pino uses for stdout in production (SonicBoom), aimed at /dev/null; its types do not claim to be a Writable.
const devNull = pino.destination({ dest: '/dev/null', sync: false }) as unknown as NodeJS.WritableStream;
const logger = createLogger({ level: 'info', format: 'json' }, devNull);

/**
 * The store without `openEventLog`, every other member the store's own. Members are read from and called on
 * the store itself, never on the proxy: the stores keep state in #private fields, which only the store can reach.
 */
function withoutEventLog(store: SessionStore): SessionStore {
  // Bound once per method, so a request pays a map lookup, not a new function per store call.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      if (property === 'openEventLog') return undefined;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!bound.has(property)) bound.set(property, value.bind(target));
      return bound.get(property);
    },
  });
}

const config = resolveConfig({
  store: kind,
  keys: [COOKIE_SECRET],
  idleTtlMs: SESSION_TTL_MS,
  // The default otherwise: 1 % of the TTL.
  ...(touchEveryRequest ? { touchAfterMs: 0 } : {}),
  sweepIntervalMs: HOUR_MS,
  fileDir: namespace.fileDir,
  pgTable: namespace.pgTable,
  databaseUrl: DATABASE_URL,
  redisUrl: REDIS_URL,
  redisPrefix: namespace.redisPrefix,
  logLevel: 'info',
  logFormat: 'json',
});
// Made exactly as the library makes it when given no store.
const store = eventsInMemory
  ? withoutEventLog(createStore(config, config.sweepIntervalMs, (err) => logger.debug({ err, store: config.store }, 'session store connection error')))
  : undefined;
const app = new Koa();
const sessions = await createSessionkeeper(app, config, { logger, store });
app.use(sessions.middleware);
// Only on the owner benchmark's servers: the other cases' requests never pass this extra middleware.
if (signIn) {
  app.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/sign-in') return next();
    Object.assign(ctx.session!, sessionPayload(0));
    await setSessionOwner(ctx, String(ctx.query.owner));
    ctx.body = { signedIn: true };
  });
}
app.use(sessionRoutes());

/** Runs `task` and reports how long it took in this process, in ms. */
async function timed<T>(task: () => Promise<T>): Promise<T & { ms: number }> {
  const started = performance.now();
  const result = await task();
  return { ...result, ms: performance.now() - started };
}

await serve(app.callback(), {
  close: () => sessions.close(),
  controls: {
    sweep: () => timed(() => sessions.sweeper.sweepNow()),
    list: (message) =>
      timed(async () => {
        const page = await sessions.store.list({
          limit: 50,
          sort: message.sort as ListSort,
          cursor: message.cursor as string | undefined,
          now: Date.now(),
        });
        return { listed: page.sessions.length, nextCursor: page.nextCursor };
      }),
    count: () => timed(async () => ({ live: await sessions.store.count(Date.now()) })),
  },
});
