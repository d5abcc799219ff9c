/**
 * `npm run bench:owners`: answering for one owner among many sessions (issue 15).
 * On each store, 100,000 live sessions (`--sessions N`) are seeded through the
 * store's own `create()`: 10,000 (`--owned N`) belong to owner A, as many to
 * each of owners B, C and D, half of the rest to other owners (10 sessions
 * each) and half to nobody, in interleaved batches (so the seeding also times
 * `create()` with and without an owner side by side). Then, through the
 * compiled package opened as a script opens it (`openSessionkeeper`: guarded
 * store, events logged and appended to the shared log):
 *
 * - `listOwnerSessions(A)`, every page, beside a plain `store.list` first page
 *   of 1,000 (the page size it lists by), alternately, median of three;
 * - what listing and ending read of the other sessions: on files the session
 *   files opened and `lstat`ed, on Redis the idle time of sampled session
 *   hashes, on PostgreSQL the plans of the statements;
 * - `endOwnerSessions` of A, then the same work one session at a time for B
 *   and D (each session ended by `destroy` and its `session.destroyed` event,
 *   16 at a time), then `endOwnerSessions` of C: each figure the mean of its
 *   two owners, taken around the other's (A B D C), since the disk and the
 *   machine's other work drift over the minute this takes.
 *
 * Prints a Markdown table per store. Everything it makes (Redis keys under its
 * own prefix, its own tables, its own directory) is removed afterwards, also
 * when interrupted (SIGINT, SIGTERM) or over its time limit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { MAX_PAGE_SIZE, type SessionRecord, type SessionStore, type StoreKind } from '../middleware/store.ts';
import { buildLibrary } from './lib/baseline.ts';
import { bulkRecord, bulkSessionId } from './lib/bulk-load.ts';
import { fileTouches, type FileTouches } from './lib/file-touches.ts';
import { formatCount, formatFixed, formatMs, formatRatio, markdownTable } from './lib/markdown.ts';
import {
  benchPool, benchRedis, closeBenchConnections, createBenchNamespace, librarySettings, removeActiveNamespaces, removeBenchNamespace,
} from './lib/namespaces.ts';
import { REPO_ROOT } from './lib/server-process.ts';
import { median } from './lib/stats.ts';
import { openStore } from './lib/store-bench.ts';
import type { BenchNamespace } from './servers/harness.ts';

const STORES: readonly StoreKind[] = ['file', 'redis', 'postgres'];
const OWNER_A = 'owner-a@example.com';
const OWNER_B = 'owner-b@example.com';
const OWNER_C = 'owner-c@example.com';
const OWNER_D = 'owner-d@example.com';
/** The four owners of OWNED sessions each, in the order of their index ranges. */
const BIG_OWNERS = [OWNER_A, OWNER_B, OWNER_C, OWNER_D];
const SESSIONS_PER_OTHER_OWNER = 10;
/** Sessions per seeding batch; the batches of each kind take turns. */
const SEED_BATCH = 1_000;
const SEED_CONCURRENCY: Record<StoreKind, number> = { redis: 500, postgres: 20, file: 64 };
/** Ending one session at a time: this many calls in flight, as the migration's floor does. */
const DESTROY_CONCURRENCY = 16;
const LIST_REPEATS = 3;
/** How long Redis' session hashes rest before the owner calls, so a hash read by them stands out by its idle time. */
const REDIS_REST_MS = 4_000;
/** Session hashes sampled on Redis to see which ones a call read. */
const IDLE_SAMPLE = 1_000;
const DEADLINE_MS = 30 * 60_000;

const { values: flags } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000' },
    owned: { type: 'string', default: '10000' },
    stores: { type: 'string' },
  },
});
const SESSIONS = Number(flags.sessions);
const OWNED = Number(flags.owned);
if (!Number.isSafeInteger(SESSIONS) || !Number.isSafeInteger(OWNED) || OWNED < 1 || BIG_OWNERS.length * OWNED > SESSIONS) {
  throw new Error(`--owned must be a whole number from 1 to a quarter of --sessions (${flags.sessions}), not ${flags.owned}`);
}
const kinds = flags.stores ? (flags.stores.split(',') as StoreKind[]) : STORES;
if (!kinds.every((kind) => STORES.includes(kind))) throw new Error(`--stores takes a comma-separated list of ${STORES.join(', ')}`);

const progress = (line: string) => process.stderr.write(`[owners] ${line}\n`);
let stopping = false;

function abort(reason: string): void {
  if (stopping) return;
  stopping = true;
  progress(`${reason}: stopping and cleaning up`);
  // Seeding stops issuing creations at once; the ones in flight get a moment to land before their namespace goes.
  void sleep(500)
    .then(() => removeActiveNamespaces())
    .finally(() => process.exit(2));
}
setTimeout(() => abort(`over the ${DEADLINE_MS / 60_000}-minute limit`), DEADLINE_MS).unref();
process.once('SIGINT', () => abort('interrupted'));
process.once('SIGTERM', () => abort('terminated'));

/** Which sessions the seed holds, by index: A's, B's, C's, D's, then the other owners', then those of nobody. */
const othersStart = BIG_OWNERS.length * OWNED;
const nobodyStart = othersStart + Math.floor((SESSIONS - othersStart) / 2);
function ownerOf(index: number): string | undefined {
  if (index < othersStart) return BIG_OWNERS[Math.floor(index / OWNED)];
  if (index < nobodyStart) return `owner-${Math.floor((index - othersStart) / SESSIONS_PER_OTHER_OWNER)}@example.com`;
  return undefined;
}

interface SeedRates {
  /** `create()` calls per second, for sessions with an owner and without. */
  ownedPerSecond: number;
  plainPerSecond: number;
  seconds: number;
}

interface SeedBatch {
  from: number;
  to: number;
  owned: boolean;
}

/** Index ranges of one kind each (with an owner or without), the two kinds taking turns evenly. */
function seedBatches(): SeedBatch[] {
  const chunks = (from: number, to: number, owned: boolean) =>
    Array.from({ length: Math.ceil((to - from) / SEED_BATCH) }, (_, i) => ({ from: from + i * SEED_BATCH, to: Math.min(to, from + (i + 1) * SEED_BATCH), owned }));
  const owned = chunks(0, nobodyStart, true);
  const plain = chunks(nobodyStart, SESSIONS, false);
  const turns: SeedBatch[] = [];
  let i = 0;
  let j = 0;
  while (i < owned.length || j < plain.length) {
    // Whichever kind is further behind its share goes next.
    if (j === plain.length || (i < owned.length && i * plain.length <= j * owned.length)) turns.push(owned[i++]!);
    else turns.push(plain[j++]!);
  }
  return turns;
}

function recordOf(baseNow: number, index: number): SessionRecord {
  const owner = ownerOf(index);
  const record = bulkRecord(baseNow, false, index);
  return owner === undefined ? record : { ...record, owner };
}

async function seed(kind: StoreKind, namespace: BenchNamespace, store: SessionStore, baseNow: number): Promise<SeedRates> {
  const spent = { owned: { ms: 0, count: 0 }, plain: { ms: 0, count: 0 } };
  const started = performance.now();
  for (const batch of seedBatches()) {
    // Interrupted: wait for `abort` to clean up and end the process.
    if (stopping) await new Promise<never>(() => undefined);
    const batchStarted = performance.now();
    let next = batch.from;
    const worker = async () => {
      while (next < batch.to && !stopping) {
        const index = next++;
        await store.create(bulkSessionId(namespace, false, index), recordOf(baseNow, index));
      }
    };
    await Promise.all(Array.from({ length: SEED_CONCURRENCY[kind] }, worker));
    const tally = batch.owned ? spent.owned : spent.plain;
    tally.ms += performance.now() - batchStarted;
    tally.count += batch.to - batch.from;
  }
  return {
    ownedPerSecond: (1000 * spent.owned.count) / spent.owned.ms,
    plainPerSecond: (1000 * spent.plain.count) / spent.plain.ms,
    seconds: (performance.now() - started) / 1000,
  };
}

async function timed<T>(task: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await task();
  return { result, ms: performance.now() - started };
}

/** What an owner call read of the sessions that are not the owner's, in a sentence per call. */
interface ReadsReport {
  list: string;
  end: string;
}

function fileSentence(call: string, touches: FileTouches, ownerIds: ReadonlySet<string>): string {
  const others = (ids: Set<string>) => [...ids].filter((id) => !ownerIds.has(id)).length;
  return `${call} opened ${formatCount(touches.opened.size)} session files (${formatCount(touches.opens)} opens) and \`lstat\`ed ${formatCount(touches.statted.size)} (${formatCount(touches.stats)} calls); of other owners' or ownerless sessions it opened ${others(touches.opened)} and \`lstat\`ed ${others(touches.statted)}; whole-directory walks: ${touches.directoryWalks}`;
}

/** Idle seconds (OBJECT IDLETIME) of the session hashes of these indexes; a hash read within the last second shows 0. */
async function idleSeconds(namespace: BenchNamespace, indexes: readonly number[]): Promise<number[]> {
  const redis = await benchRedis();
  return Promise.all(indexes.map(async (index) => Number(await redis.sendCommand(['OBJECT', 'IDLETIME', `${namespace.redisPrefix}s:${bulkSessionId(namespace, false, index)}`]))));
}

/** `count` indexes spread evenly over [from, to). */
function spread(from: number, to: number, count: number): number[] {
  const step = (to - from) / count;
  return Array.from({ length: count }, (_, i) => from + Math.floor(i * step));
}

/** The node types and index names of a plan, outermost first (EXPLAIN … FORMAT JSON). */
function planOutline(plan: Record<string, unknown>): string {
  const parts: string[] = [];
  const visit = (node: Record<string, unknown>) => {
    const direction = node['Scan Direction'] === 'Backward' ? ' Backward' : '';
    const index = node['Index Name'] ? `${direction} using ${String(node['Index Name'])}` : '';
    const actual = node['Actual Rows'] === undefined ? '' : ` (${formatCount(Number(node['Actual Rows']))} rows, ${formatCount(Number(node['Rows Removed by Filter'] ?? 0))} removed by filter)`;
    parts.push(`${String(node['Node Type'])}${index}${actual}`);
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) visit(child);
  };
  visit(plan);
  return parts.join(' → ');
}

/** The plans of the owner statements of postgres-store.ts (the same SQL, with the values as literals). */
async function postgresPlans(table: string, now: number): Promise<ReadsReport> {
  const pool = benchPool();
  const explain = async (options: string, sql: string, values: unknown[]) => {
    const { rows } = await pool.query<{ 'QUERY PLAN': [{ Plan: Record<string, unknown>; 'Execution Time'?: number }] }>(`EXPLAIN (${options}, FORMAT JSON) ${sql}`, values);
    return planOutline(rows[0]!['QUERY PLAN'][0].Plan);
  };
  const page = await explain(
    'ANALYZE, BUFFERS',
    `SELECT id, created_at_ms, last_seen_at_ms, expires_at_ms, size_bytes, key_names, owner, device FROM "${table}"
     WHERE expires_at_ms > $1 AND owner = $3 ORDER BY last_seen_at_ms DESC, id DESC LIMIT $2`,
    [now, MAX_PAGE_SIZE + 1, OWNER_A],
  );
  // Planned only: run, it would end the sessions before their timed ending.
  const end = await explain('COSTS OFF', `DELETE FROM "${table}" WHERE owner = $1 AND expires_at_ms > $2 AND NOT (id = ANY($3::text[])) RETURNING id`, [OWNER_A, now, []]);
  return { list: `a page of listOwnerSessions, EXPLAIN ANALYZE: ${page}`, end: `endOwnerSessions, EXPLAIN: ${end}` };
}

interface StoreResult {
  kind: StoreKind;
  seed: SeedRates;
  listOwnerMs: number;
  firstPageMs: number;
  /** Mean of A's and C's. */
  endMs: number;
  /** Mean of B's and D's. */
  destroyMs: number;
  left: number;
  reads: ReadsReport;
}

async function runStore(kind: StoreKind): Promise<StoreResult> {
  const namespace = await createBenchNamespace();
  try {
    const baseNow = Date.now();
    const raw = openStore(kind, namespace);
    let seedRates: SeedRates;
    try {
      await raw.init();
      seedRates = await seed(kind, namespace, raw, baseNow);
    } finally {
      await raw.close();
    }
    const seededAt = performance.now();
    progress(`${kind}: ${formatCount(SESSIONS)} sessions seeded in ${seedRates.seconds.toFixed(1)} s (create/s with an owner ${formatCount(seedRates.ownedPerSecond)}, without ${formatCount(seedRates.plainPerSecond)})`);
    // As autovacuum would have by now in a table that grew this much: the planner knows how the owners spread.
    if (kind === 'postgres') await benchPool().query(`ANALYZE "${namespace.pgTable}"`);

    const { openSessionkeeper, createLogger } = await import('./servers/library.ts');
    // Log lines are written (to nowhere), as an application's would be.
    const logger = createLogger({ level: 'info', format: 'json' }, { write: () => true } as unknown as NodeJS.WritableStream);
    const sessions = await openSessionkeeper({ ...librarySettings(kind, namespace), logLevel: 'info' }, { logger });
    try {
      // Redis tells reads apart by idle time, in whole seconds (give or take one): every hash rests a while first.
      if (kind === 'redis') await sleep(Math.max(0, REDIS_REST_MS - (performance.now() - seededAt)));

      const listOwner = () => timed(() => sessions.listOwnerSessions(OWNER_A));
      const firstPage = () => timed(() => sessions.store.list({ limit: MAX_PAGE_SIZE, sort: 'activity', now: Date.now() }));
      const listTimes: number[] = [];
      const pageTimes: number[] = [];
      for (let i = 0; i < LIST_REPEATS; i++) {
        const owned = await listOwner();
        if (owned.result.length !== OWNED) throw new Error(`${kind}: listOwnerSessions listed ${owned.result.length} of ${OWNED}`);
        if (owned.result.some((session) => session.owner !== OWNER_A)) throw new Error(`${kind}: listOwnerSessions listed another owner's session`);
        listTimes.push(owned.ms);
        pageTimes.push((await firstPage()).ms);
      }

      const idsOf = (owner: string) => {
        const from = BIG_OWNERS.indexOf(owner) * OWNED;
        return Array.from({ length: OWNED }, (_, i) => bulkSessionId(namespace, false, from + i));
      };
      const endOwner = async (owner: string) => {
        const ended = await timed(() => sessions.endOwnerSessions(owner));
        checkEnded(kind, ended.result);
        // Their events are appended in the background: settled before the next timing.
        await sessions.events.flushed();
        return ended.ms;
      };
      const endOneByOne = async (owner: string) => {
        const ids = idsOf(owner);
        const destroyed = await timed(async () => {
          let next = 0;
          let ended = 0;
          const worker = async () => {
            while (next < ids.length) {
              const sid = ids[next++]!;
              if (!(await sessions.store.destroy(sid))) continue;
              sessions.events.record('session.destroyed', { sid, by: 'app', owner });
              ended++;
            }
          };
          await Promise.all(Array.from({ length: DESTROY_CONCURRENCY }, worker));
          return ended;
        });
        checkEnded(kind, destroyed.result);
        await sessions.events.flushed();
        return destroyed.ms;
      };

      let reads: ReadsReport;
      let endAMs: number;
      if (kind === 'file') {
        const ownerIds = new Set(idsOf(OWNER_A));
        const listed = await fileTouches(namespace.fileDir, () => sessions.listOwnerSessions(OWNER_A));
        const ended = await fileTouches(namespace.fileDir, () => endOwner(OWNER_A));
        endAMs = ended.result;
        reads = { list: fileSentence('listOwnerSessions', listed.touches, ownerIds), end: fileSentence('endOwnerSessions', ended.touches, ownerIds) };
      } else if (kind === 'redis') {
        // The plain first page read the most recently used sessions, indexes 0 to 1,000 (a page and the one that
        // says more follow): the samples leave them out.
        const pageReach = MAX_PAGE_SIZE + 1;
        const ownersSample = spread(pageReach, OWNED, Math.min(IDLE_SAMPLE, OWNED - pageReach));
        const othersSample = spread(Math.max(OWNED, pageReach), SESSIONS, IDLE_SAMPLE);
        const justRead = (idle: number) => idle <= 1;
        const before = await idleSeconds(namespace, othersSample);
        if (before.some(justRead)) throw new Error('redis: sampled sessions were read before the owner calls');
        await sessions.listOwnerSessions(OWNER_A);
        const ownersRead = (await idleSeconds(namespace, ownersSample)).filter(justRead).length;
        const othersReadByList = (await idleSeconds(namespace, othersSample)).filter(justRead).length;
        endAMs = await endOwner(OWNER_A);
        const othersReadByEnd = (await idleSeconds(namespace, othersSample)).filter(justRead).length;
        const sampled = `${formatCount(IDLE_SAMPLE)} sampled hashes of other sessions (idle ${Math.min(...before)} s or more before)`;
        reads = {
          list: `listOwnerSessions read ${formatCount(ownersRead)} of ${formatCount(ownersSample.length)} sampled hashes of A's sessions (OBJECT IDLETIME ≤ 1 s right after) and ${othersReadByList} of ${sampled}`,
          end: `endOwnerSessions read ${othersReadByEnd} of the same ${sampled}`,
        };
      } else {
        reads = await postgresPlans(namespace.pgTable, Date.now());
        endAMs = await endOwner(OWNER_A);
      }
      const destroyBMs = await endOneByOne(OWNER_B);
      const destroyDMs = await endOneByOne(OWNER_D);
      const endCMs = await endOwner(OWNER_C);
      const left = await sessions.store.count(Date.now());
      const expected = SESSIONS - BIG_OWNERS.length * OWNED;
      if (left !== expected) throw new Error(`${kind}: ${left} sessions left, not ${expected}`);
      const ms = (value: number) => `${formatMs(value)} ms`;
      progress(`${kind}: listed A's in ${ms(median(listTimes))}; ended A's in ${ms(endAMs)}, B's one by one in ${ms(destroyBMs)}, D's one by one in ${ms(destroyDMs)}, C's in ${ms(endCMs)}`);
      return {
        kind, seed: seedRates, listOwnerMs: median(listTimes), firstPageMs: median(pageTimes),
        endMs: (endAMs + endCMs) / 2, destroyMs: (destroyBMs + destroyDMs) / 2, left, reads,
      };
    } finally {
      await sessions.close();
    }
  } finally {
    await removeBenchNamespace(namespace);
  }
}

function checkEnded(kind: StoreKind, ended: number): void {
  if (ended !== OWNED) throw new Error(`${kind}: ended ${ended} of ${OWNED} sessions`);
}

function storeTable(r: StoreResult): string {
  const pages = Math.ceil(OWNED / MAX_PAGE_SIZE);
  const perSession = (ms: number, count: number) => formatFixed((1000 * ms) / count, 0);
  const rows = [
    [`listOwnerSessions(A): ${pages} page${pages === 1 ? '' : 's'} of ${formatCount(MAX_PAGE_SIZE)}`, formatCount(OWNED), formatMs(r.listOwnerMs), perSession(r.listOwnerMs, OWNED), formatRatio(r.listOwnerMs / OWNED / (r.firstPageMs / MAX_PAGE_SIZE))],
    [`reference: store.list, first page of ${formatCount(MAX_PAGE_SIZE)} of all ${formatCount(SESSIONS)}`, formatCount(MAX_PAGE_SIZE), formatMs(r.firstPageMs), perSession(r.firstPageMs, MAX_PAGE_SIZE), '1.00×'],
    ['endOwnerSessions: A, then C (mean)', formatCount(OWNED), formatMs(r.endMs), perSession(r.endMs, OWNED), formatRatio(r.endMs / r.destroyMs)],
    [`reference: one by one (destroy + event, ${DESTROY_CONCURRENCY} at a time): B, then D (mean)`, formatCount(OWNED), formatMs(r.destroyMs), perSession(r.destroyMs, OWNED), '1.00×'],
  ];
  const seeding = `seeding: ${formatCount(SESSIONS)} in ${r.seed.seconds.toFixed(1)} s through \`create()\`, ${SEED_CONCURRENCY[r.kind]} at a time: ${formatCount(r.seed.ownedPerSecond)}/s with an owner, ${formatCount(r.seed.plainPerSecond)}/s without (${formatRatio(r.seed.ownedPerSecond / r.seed.plainPerSecond)})`;
  return [
    `#### ${r.kind}`,
    markdownTable(['operation', 'sessions', 'ms', 'µs per session', 'per session vs reference'], rows),
    `- ${r.reads.list}\n- ${r.reads.end}\n- ${seeding}\n- left afterwards: ${formatCount(r.left)} sessions, as expected`,
  ].join('\n\n');
}

const startedMs = performance.now();
await buildLibrary(REPO_ROOT, progress);
const results: StoreResult[] = [];
try {
  for (const kind of kinds) results.push(await runStore(kind));
} catch (error) {
  // A call cut short by an interruption: `abort` is cleaning up and ends the process.
  if (stopping) await new Promise<never>(() => undefined);
  throw error;
} finally {
  await closeBenchConnections();
}
const others = SESSIONS - othersStart;
const report = [
  `### Owners: one owner's ${formatCount(OWNED)} sessions among ${formatCount(SESSIONS)}`,
  `Owners A, B, C and D hold ${formatCount(OWNED)} sessions each; ${formatCount(nobodyStart - othersStart)} belong to ${formatCount(Math.ceil((nobodyStart - othersStart) / SESSIONS_PER_OTHER_OWNER))} other owners, ${formatCount(others - (nobodyStart - othersStart))} to nobody. Times through \`openSessionkeeper\` (compiled); lists: median of ${LIST_REPEATS}.`,
  ...results.map(storeTable),
  `_Total time: ${((performance.now() - startedMs) / 60_000).toFixed(1)} min._`,
];
process.stdout.write(`${report.join('\n\n')}\n`);
