/**
 * `npm run bench:migrate`: the bulk migration of a backend switch on every
 * ordered pair of stores, with 100,000 live sessions in the previous store
 * (`--sessions N` for another number). For each pair it runs, side by side
 * on the same data:
 *
 * - the migration as `sessionkeeper migrate` runs it (compiled package,
 *   guarded stores, `session.moved` logged and appended to the shared event
 *   log, copies inserted durably);
 * - the floor: the same walk, then a plain `get`, `create` and `destroy` per
 *   session on the raw stores, 16 at a time, nothing logged: what moving the
 *   data costs the stores at the least.
 *
 * and prints sessions per second for both and their ratio, as a Markdown table.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import type * as Migration from '../middleware/migration.ts';
import { liveIdBatches, type StoreKind } from '../middleware/store.ts';
import { bulkLoad } from './lib/bulk-load.ts';
import { formatCount, formatRatio, markdownTable } from './lib/markdown.ts';
import { closeBenchConnections, createBenchNamespace, librarySettings, removeBenchNamespace } from './lib/namespaces.ts';
import { openStore } from './lib/store-bench.ts';
import type { BenchNamespace } from './servers/harness.ts';
import { buildLibrary } from './lib/baseline.ts';
import { REPO_ROOT } from './lib/server-process.ts';

const KINDS: StoreKind[] = ['file', 'redis', 'postgres'];
const PAIRS = KINDS.flatMap((from) => KINDS.filter((to) => to !== from).map((to) => [from, to] as const));
const CONCURRENCY = 16;
const BATCH = 500;

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '100000' } } });
const SESSIONS = Number(values.sessions);
if (!Number.isSafeInteger(SESSIONS) || SESSIONS < 1) throw new Error(`--sessions must be a whole number, not ${values.sessions}`);

await buildLibrary(REPO_ROOT, (line) => console.error(line));
const { openSessionkeeper, createLogger } = await import('./servers/library.ts');
// The migration is this checkout's, compiled like the rest (the baseline commits of the other benchmarks have none).
const { migrateSessions } = (await import(join(REPO_ROOT, 'dist', 'middleware', 'migration.js'))) as typeof Migration;

interface PairResult {
  from: StoreKind;
  to: StoreKind;
  migratePerSecond: number;
  floorPerSecond: number;
}

/** A fresh previous store holding SESSIONS live sessions, and an empty current one. */
async function seededPair(from: StoreKind, to: StoreKind): Promise<{ previous: BenchNamespace; current: BenchNamespace }> {
  const previous = await createBenchNamespace();
  const current = await createBenchNamespace();
  const store = openStore(from, previous);
  await store.init();
  await bulkLoad(from, previous, store, { from: 0, count: SESSIONS, expired: false, baseNow: Date.now() });
  await store.close();
  const target = openStore(to, current);
  await target.init();
  await target.close();
  return { previous, current };
}

async function timeMigration(from: StoreKind, to: StoreKind): Promise<number> {
  const { previous, current } = await seededPair(from, to);
  try {
    // Log lines are written (to nowhere), as an application's would be: their cost is part of the migration's.
    const logger = createLogger({ level: 'info', format: 'json' }, { write: () => true } as unknown as NodeJS.WritableStream);
    const sessions = await openSessionkeeper({ ...librarySettings(to, current), ...librarySettings(from, previous, true), logLevel: 'info' }, { logger });
    try {
      const started = performance.now();
      const summary = await migrateSessions(sessions.transition!, sessions.sweeper, { concurrency: CONCURRENCY, batchSize: BATCH });
      const seconds = (performance.now() - started) / 1000;
      if (summary.moved !== SESSIONS || summary.failed !== 0) throw new Error(`${from} → ${to}: moved ${summary.moved} of ${SESSIONS}, ${summary.failed} failed`);
      await sessions.events.flushed();
      return SESSIONS / seconds;
    } finally {
      await sessions.close();
    }
  } finally {
    await Promise.all([removeBenchNamespace(previous), removeBenchNamespace(current)]);
  }
}

async function timeFloor(from: StoreKind, to: StoreKind): Promise<number> {
  const namespaces = await seededPair(from, to);
  const previous = openStore(from, namespaces.previous);
  const current = openStore(to, namespaces.current);
  try {
    await Promise.all([previous.init(), current.init()]);
    const started = performance.now();
    let copied = 0;
    for await (const ids of liveIdBatches(previous, Date.now(), BATCH)) {
      let next = 0;
      const worker = async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          const record = await previous.get(id, Date.now());
          if (!record) continue;
          await current.create(id, record);
          await previous.destroy(id);
          copied += 1;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    }
    const seconds = (performance.now() - started) / 1000;
    if (copied !== SESSIONS) throw new Error(`floor ${from} → ${to}: copied ${copied} of ${SESSIONS}`);
    return SESSIONS / seconds;
  } finally {
    await Promise.all([previous.close(), current.close()]);
    await Promise.all([removeBenchNamespace(namespaces.previous), removeBenchNamespace(namespaces.current)]);
  }
}

const results: PairResult[] = [];
try {
  for (const [from, to] of PAIRS) {
    const floorPerSecond = await timeFloor(from, to);
    const migratePerSecond = await timeMigration(from, to);
    results.push({ from, to, migratePerSecond, floorPerSecond });
    console.error(`${from} → ${to}: migrate ${Math.round(migratePerSecond)}/s, floor ${Math.round(floorPerSecond)}/s`);
  }
} finally {
  await closeBenchConnections();
}

console.log(`\nMigration of ${formatCount(SESSIONS)} live sessions, ${CONCURRENCY} moves at a time:\n`);
console.log(markdownTable(
  ['from → to', 'sessionkeeper migrate (sessions/s)', 'floor: get, create, destroy (sessions/s)', 'ratio'],
  results.map((r) => [`${r.from} → ${r.to}`, formatCount(r.migratePerSecond), formatCount(r.floorPerSecond), formatRatio(r.migratePerSecond / r.floorPerSecond)]),
));
