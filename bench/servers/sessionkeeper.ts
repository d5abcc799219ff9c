/**
 * sessionkeeper with all its guarantees on, on the store named by argv[2]
 * (`redis`, `postgres` or `file`), in the run's namespace. Lifecycle events are
 * logged as in production (JSON lines), into /dev/null. The sweeper runs only
 * when the orchestrator asks (`sweep`), so a benchmark never races it; `list`
 * and `count` time the dashboard's store calls inside this process.
 */
import Koa from 'koa';
import pino from 'pino';
import { createSessionkeeper } from '../../middleware/sessionkeeper.ts';
import { createLogger } from '../../middleware/logger.ts';
import type { ListSort, StoreKind } from '../../middleware/store.ts';
import { benchNamespace, COOKIE_SECRET, DATABASE_URL, REDIS_URL, serve, SESSION_TTL_MS } from './harness.ts';
import { sessionRoutes } from './koa-routes.ts';

const HOUR_MS = 3_600_000;
const kind = process.argv[2] as StoreKind;
const namespace = benchNamespace();
// The stream pino uses for stdout in production (SonicBoom), aimed at /dev/null; its types do not claim to be a Writable.
const devNull = pino.destination({ dest: '/dev/null', sync: false }) as unknown as NodeJS.WritableStream;
const logger = createLogger({ level: 'info', format: 'json' }, devNull);

const app = new Koa();
const sessions = await createSessionkeeper(
  app,
  {
    store: kind,
    keys: [COOKIE_SECRET],
    idleTtlMs: SESSION_TTL_MS,
    sweepIntervalMs: HOUR_MS,
    fileDir: namespace.fileDir,
    pgTable: namespace.pgTable,
    databaseUrl: DATABASE_URL,
    redisUrl: REDIS_URL,
    redisPrefix: namespace.redisPrefix,
    logLevel: 'info',
    logFormat: 'json',
  },
  { logger },
);
app.use(sessions.middleware);
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
