/**
 * `npm run bench:cluster`: the Redis store on a Redis Cluster beside the same
 * store on a single Redis, in one run. The script starts both itself: a
 * private six-node cluster (3 primaries, 3 replicas; test/helpers/private-cluster.ts)
 * and a private single Redis (test/helpers/private-redis.ts), on free ports of
 * 127.0.0.1, without persistence, and stops them at the end, also when it fails,
 * is interrupted (SIGINT, SIGTERM) or overruns its time limit.
 *
 * 1. Seeding: 1,000,000 live sessions (`--sessions N`; data `{ n: i }`, random
 *    public ids) through the store's `create()`, SEED_CONCURRENCY in flight, the
 *    very same sessions on both, in chunks that take turns; the rate of each.
 *    Then the spread over the primaries: each shard's expiry index (ZCARD)
 *    counted for the primary serving the shard's slot, the most-loaded over the
 *    least-loaded primary (the goal is ≤ 1.2), and each primary's `used_memory`.
 * 2. The dashboard's first page: `store.list({ limit: 50, sort })` by activity
 *    and by expiry, and `store.count(now)`, on both, taking turns (the order
 *    reversed every other round), median of REPEATS after WARMUP rounds.
 * 3. The sweep: 100,000 sessions already expired (`--expired N`) added beside
 *    the live ones, then drained as the sweeper drains them
 *    (`purgeExpired(Date.now(), 1000)` until a batch comes back short), timed;
 *    the cluster first, then the single Redis.
 *
 * `--smoke` runs 20,000 and 2,000 sessions, a quick check that every step works.
 * The store is this checkout's source (run by tsx), as bench/owners.ts seeds it.
 * Prints Markdown on stdout, progress on stderr.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createClient, createCluster } from 'redis';
import { newSessionId, publicIdOf } from '../middleware/ids.ts';
import type { SessionRecord, SessionStore } from '../middleware/store.ts';
import { RedisLayout, SHARD_COUNT, slotOfShard } from '../middleware/stores/redis-layout.ts';
import { RedisStore } from '../middleware/stores/redis-store.ts';
import { startPrivateCluster, type PrivateCluster } from '../test/helpers/private-cluster.ts';
import { startPrivateRedis, type PrivateRedis } from '../test/helpers/private-redis.ts';
import { formatCount, formatFixed, formatMs, formatRatio, markdownTable } from './lib/markdown.ts';
import { median } from './lib/stats.ts';

const PREFIX = 'skbench:cluster:';
/** `create()` calls in flight while seeding: node-redis pipelines them (per node on the cluster). */
const SEED_CONCURRENCY = 500;
/** The live sessions are seeded in this many chunks, the two targets taking turns. */
const SEED_CHUNKS = 20;
const PAGE_SIZE = 50;
/** Rounds of the dashboard calls timed (the median reported), after rounds not counted. */
const REPEATS = 20;
const WARMUP = 3;
/** Sessions per `purgeExpired` call, as the sweeper's default batch. */
const PURGE_BATCH = 1_000;
/** The goal for the most-loaded primary over the least-loaded. */
const SPREAD_GOAL = 1.2;
const HOUR_MS = 3_600_000;

const { values: flags } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    sessions: { type: 'string' },
    expired: { type: 'string' },
  },
});
const SESSIONS = Number(flags.sessions ?? (flags.smoke ? 20_000 : 1_000_000));
const EXPIRED = Number(flags.expired ?? (flags.smoke ? 2_000 : 100_000));
if (!Number.isSafeInteger(SESSIONS) || SESSIONS < PAGE_SIZE + 1) throw new Error(`--sessions must be a whole number above ${PAGE_SIZE}, not ${flags.sessions}`);
if (!Number.isSafeInteger(EXPIRED) || EXPIRED < 1) throw new Error(`--expired must be a whole number from 1, not ${flags.expired}`);
const DEADLINE_MS = (flags.smoke ? 5 : 30) * 60_000;

const progress = (line: string) => process.stderr.write(`[cluster] ${line}\n`);

type TargetName = 'cluster' | 'single';
interface Target {
  name: TargetName;
  store: SessionStore;
}

// Everything to stop at the end, whatever happens.
let cluster: PrivateCluster | undefined;
let single: PrivateRedis | undefined;
const stores: SessionStore[] = [];
const inspectors: { close(): Promise<unknown> }[] = [];
let stopping = false;

/** A promise given at most `ms`: cleaning up must not hang on a client whose servers are gone. */
async function atMost(ms: number, promise: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

async function cleanUp(): Promise<void> {
  await atMost(5_000, Promise.allSettled([...stores, ...inspectors].map((client) => client.close())));
  stores.length = 0;
  inspectors.length = 0;
  await Promise.allSettled([cluster?.stop(), single?.stop()]);
}

function abort(reason: string): void {
  if (stopping) return;
  stopping = true;
  progress(`${reason}: stopping the servers`);
  void cleanUp().finally(() => process.exit(2));
}
setTimeout(() => abort(`over the ${DEADLINE_MS / 60_000}-minute limit`), DEADLINE_MS).unref();
process.once('SIGINT', () => abort('interrupted'));
process.once('SIGTERM', () => abort('terminated'));

/** Live session `i`: last seen 1 s + i ms ago (so the activity order is the index order), expiring 2 hours after. */
function liveRecord(baseNow: number, i: number): SessionRecord {
  const lastSeenAt = baseNow - 1000 - i;
  return { data: { n: i }, createdAt: baseNow - HOUR_MS, lastSeenAt, expiresAt: lastSeenAt + 2 * HOUR_MS };
}

/** Expired session `i`: expired a minute + i ms before `baseNow` (Redis keeps its hash 10 minutes past that). */
function expiredRecord(baseNow: number, i: number): SessionRecord {
  return { data: { n: i }, createdAt: baseNow - 3 * HOUR_MS, lastSeenAt: baseNow - 2 * HOUR_MS - i, expiresAt: baseNow - 60_000 - i };
}

function randomIds(count: number): string[] {
  return Array.from({ length: count }, () => publicIdOf(newSessionId()));
}

/** `create()` of ids[from, to), SEED_CONCURRENCY in flight; the ms it took. */
async function seedRange(target: Target, ids: readonly string[], from: number, to: number, recordOf: (i: number) => SessionRecord): Promise<number> {
  const started = performance.now();
  let next = from;
  const worker = async () => {
    while (next < to && !stopping) {
      const i = next++;
      await target.store.create(ids[i]!, recordOf(i));
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
  // Interrupted: wait for `abort` to clean up and end the process.
  if (stopping) await new Promise<never>(() => undefined);
  return performance.now() - started;
}

/**
 * The same sessions on every target, in chunks of SEED_CHUNK that take turns (the order reversed every other
 * chunk), so the process's warm-up and the machine's drift weigh on both alike; sessions per second of each.
 */
async function seedAll(targets: readonly Target[], ids: readonly string[], recordOf: (i: number) => SessionRecord): Promise<Map<TargetName, number>> {
  const spentMs = new Map(targets.map((t) => [t.name, 0]));
  const chunk = Math.max(1_000, Math.ceil(ids.length / SEED_CHUNKS));
  for (let from = 0, turn = 0; from < ids.length; from += chunk, turn++) {
    const to = Math.min(ids.length, from + chunk);
    for (const target of turn % 2 === 0 ? targets : [...targets].reverse()) {
      spentMs.set(target.name, spentMs.get(target.name)! + (await seedRange(target, ids, from, to, recordOf)));
    }
    progress(`${formatCount(to)} of ${formatCount(ids.length)} live sessions created on each`);
  }
  return new Map(targets.map((t) => [t.name, ids.length / (spentMs.get(t.name)! / 1000)]));
}

async function timed<T>(call: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await call();
  return { result, ms: performance.now() - started };
}

function usedMemory(info: string): number {
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

function mib(bytes: number): string {
  return `${formatFixed(bytes / 2 ** 20, 1)} MiB`;
}

interface PrimaryLoad {
  address: string;
  shards: number;
  sessions: number;
  usedMemory: number;
}

/** Sessions per primary: each shard's expiry index counted for the primary that serves the shard's slot. */
async function spreadOverPrimaries(privateCluster: PrivateCluster): Promise<PrimaryLoad[]> {
  const client = createCluster({ rootNodes: privateCluster.rootNodes });
  client.on('error', () => undefined);
  inspectors.push(client);
  await client.connect();
  const layout = new RedisLayout(PREFIX);
  const loads = new Map<string, PrimaryLoad>();
  for (const address of await privateCluster.primaries()) loads.set(address, { address, shards: 0, sessions: 0, usedMemory: Number.NaN });
  const counts = await Promise.all(layout.shards.map((shard) => client.zCard(shard.expiry)));
  for (let i = 0; i < SHARD_COUNT; i++) {
    const address = client.slots[slotOfShard(i)]!.master.address;
    const load = loads.get(address) ?? { address, shards: 0, sessions: 0, usedMemory: Number.NaN };
    load.shards += 1;
    load.sessions += counts[i]!;
    loads.set(address, load);
  }
  for (const load of loads.values()) load.usedMemory = usedMemory(await infoMemory(`redis://${load.address}`));
  return [...loads.values()].sort((a, b) => a.address.localeCompare(b.address));
}

async function infoMemory(url: string): Promise<string> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.info('memory');
  } finally {
    client.destroy();
  }
}

async function redisVersion(url: string): Promise<string> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
  } finally {
    client.destroy();
  }
}

interface DashboardTimes {
  activityMs: number[];
  expiryMs: number[];
  countMs: number[];
}

/** The dashboard's first page both ways and the count, on each target in turn, reversed every other round. */
async function timeDashboard(targets: readonly Target[]): Promise<Map<TargetName, DashboardTimes>> {
  const times = new Map(targets.map((t) => [t.name, { activityMs: [], expiryMs: [], countMs: [] } as DashboardTimes]));
  for (let round = 0; round < WARMUP + REPEATS; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const { name, store } of order) {
      const activity = await timed(() => store.list({ limit: PAGE_SIZE, sort: 'activity', now: Date.now() }));
      const expiry = await timed(() => store.list({ limit: PAGE_SIZE, sort: 'expiry', now: Date.now() }));
      const count = await timed(() => store.count(Date.now()));
      if (activity.result.sessions.length !== PAGE_SIZE || expiry.result.sessions.length !== PAGE_SIZE) throw new Error(`${name}: a first page of ${activity.result.sessions.length} and ${expiry.result.sessions.length} sessions, not ${PAGE_SIZE}`);
      if (count.result !== SESSIONS) throw new Error(`${name}: count ${count.result}, not ${SESSIONS}`);
      if (round < WARMUP) continue;
      const t = times.get(name)!;
      t.activityMs.push(activity.ms);
      t.expiryMs.push(expiry.ms);
      t.countMs.push(count.ms);
    }
  }
  return times;
}

/** Both stores hold the same sessions: their first pages must name the same ones, in the same order. */
async function checkSamePages(targets: readonly Target[]): Promise<void> {
  for (const sort of ['activity', 'expiry'] as const) {
    const pages = await Promise.all(targets.map(({ store }) => store.list({ limit: PAGE_SIZE, sort, now: Date.now() })));
    const [first, ...rest] = pages.map((page) => page.sessions.map((s) => s.id).join(','));
    if (rest.some((ids) => ids !== first)) throw new Error(`the first pages by ${sort} differ between the cluster and the single Redis`);
  }
}

interface SweepResult {
  seedPerSecond: number;
  removed: number;
  calls: number;
  seconds: number;
  callMs: number[];
}

/** EXPIRED expired sessions added beside the live ones, then drained as the sweeper drains them. */
async function sweep(target: Target, ids: readonly string[]): Promise<SweepResult> {
  const baseNow = Date.now();
  const seedPerSecond = ids.length / ((await seedRange(target, ids, 0, ids.length, (i) => expiredRecord(baseNow, i))) / 1000);
  progress(`${target.name}: sweeping ${formatCount(ids.length)} expired sessions`);
  const callMs: number[] = [];
  let removed = 0;
  const started = performance.now();
  for (;;) {
    const callStarted = performance.now();
    const batch = await target.store.purgeExpired(Date.now(), PURGE_BATCH);
    callMs.push(performance.now() - callStarted);
    removed += batch.length;
    if (batch.length < PURGE_BATCH) break;
  }
  const seconds = (performance.now() - started) / 1000;
  if (removed !== ids.length) throw new Error(`${target.name}: the sweep removed ${removed} of ${ids.length} expired sessions`);
  const left = await target.store.count(Date.now());
  if (left !== SESSIONS) throw new Error(`${target.name}: ${left} live sessions after the sweep, not ${SESSIONS}`);
  return { seedPerSecond, removed, calls: callMs.length, seconds, callMs };
}

async function main(): Promise<string> {
  const startedMs = performance.now();
  progress('starting a private Redis Cluster (3 primaries, 3 replicas) and a private single Redis');
  const [clusterStart, singleStart] = await Promise.allSettled([startPrivateCluster(), startPrivateRedis()]);
  if (clusterStart.status === 'fulfilled') cluster = clusterStart.value;
  if (singleStart.status === 'fulfilled') single = singleStart.value;
  if (clusterStart.status === 'rejected') throw clusterStart.reason;
  if (singleStart.status === 'rejected') throw singleStart.reason;
  const privateCluster = cluster!;
  const privateSingle = single!;
  const primariesBefore = (await privateCluster.primaries()).sort();

  const clusterStore = new RedisStore({ clusterNodes: privateCluster.nodes.split(','), prefix: PREFIX });
  stores.push(clusterStore);
  const singleStore = new RedisStore({ url: privateSingle.url, prefix: PREFIX });
  stores.push(singleStore);
  await Promise.all([clusterStore.init(), singleStore.init()]);
  const targets: Target[] = [{ name: 'cluster', store: clusterStore }, { name: 'single', store: singleStore }];

  // 1. Seeding, the same sessions on both, and the spread over the primaries.
  const liveIds = randomIds(SESSIONS);
  const baseNow = Date.now();
  progress(`seeding ${formatCount(SESSIONS)} live sessions on each, ${SEED_CONCURRENCY} at a time, in ${SEED_CHUNKS} chunks taking turns`);
  const seedRates = await seedAll(targets, liveIds, (i) => liveRecord(baseNow, i));
  progress(`seeded: cluster ${formatCount(seedRates.get('cluster')!)}/s, single ${formatCount(seedRates.get('single')!)}/s`);
  const loads = await spreadOverPrimaries(privateCluster);
  const singleMemory = usedMemory(await infoMemory(privateSingle.url));
  const counted = loads.reduce((sum, l) => sum + l.sessions, 0);
  if (counted !== SESSIONS) throw new Error(`the primaries' shards hold ${counted} sessions, not ${SESSIONS}`);
  const spread = Math.max(...loads.map((l) => l.sessions)) / Math.min(...loads.map((l) => l.sessions));

  // 2. The dashboard's first page and count, side by side.
  await checkSamePages(targets);
  progress(`timing the first page and the count, ${REPEATS} rounds after ${WARMUP} not counted`);
  const dashboard = await timeDashboard(targets);

  // 3. The sweep.
  const expiredIds = randomIds(EXPIRED);
  const sweeps = new Map<TargetName, SweepResult>();
  for (const target of targets) {
    const result = await sweep(target, expiredIds);
    sweeps.set(target.name, result);
    progress(`${target.name}: swept ${formatCount(result.removed)} in ${result.seconds.toFixed(2)} s (${result.calls} calls)`);
  }
  const primariesAfter = (await privateCluster.primaries()).sort();
  if (primariesAfter.join() !== primariesBefore.join()) throw new Error(`the cluster failed over during the run: primaries ${primariesBefore.join(', ')} became ${primariesAfter.join(', ')}`);

  const version = await redisVersion(privateSingle.url);
  const cores = cpus();
  const c = dashboard.get('cluster')!;
  const s = dashboard.get('single')!;
  const dashboardRow = (call: string, cluster: number[], single: number[]) => [call, formatMs(median(cluster)), formatMs(median(single)), formatRatio(median(cluster) / median(single))];
  const sweepRow = (name: TargetName) => {
    const r = sweeps.get(name)!;
    return [name, formatCount(r.removed), formatCount(r.calls), r.seconds.toFixed(2), formatCount(r.removed / r.seconds), formatMs(median(r.callMs)), formatCount(r.seedPerSecond)];
  };
  const clusterSweep = sweeps.get('cluster')!;
  const singleSweep = sweeps.get('single')!;
  return [
    `### Redis Cluster: ${formatCount(SESSIONS)} live sessions, ${formatCount(EXPIRED)} expired${flags.smoke ? ' (smoke)' : ''}`,
    [
      `- machine: ${cores.length} cores (${cores[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, Redis ${version}, all on 127.0.0.1`,
      `- cluster: 3 primaries + 3 replicas (private, no persistence), slots as \`redis-cli --cluster create\` splits them; single: one private Redis (no persistence); store prefix \`${PREFIX}\`, ${SHARD_COUNT} shards`,
    ].join('\n'),
    '#### Seeding (`create()`, the same sessions on both)',
    markdownTable(['target', 'sessions', 'in flight', 'sessions/s', 'cluster / single'], [
      ['cluster', formatCount(SESSIONS), String(SEED_CONCURRENCY), formatCount(seedRates.get('cluster')!), formatRatio(seedRates.get('cluster')! / seedRates.get('single')!)],
      ['single', formatCount(SESSIONS), String(SEED_CONCURRENCY), formatCount(seedRates.get('single')!), '1.00×'],
    ]),
    '#### Sessions per primary',
    markdownTable(['primary', 'shards', 'sessions', 'share', 'used_memory'], [
      ...loads.map((l) => [l.address, String(l.shards), formatCount(l.sessions), `${formatFixed((100 * l.sessions) / SESSIONS, 1)} %`, mib(l.usedMemory)]),
      ['single Redis (all)', String(SHARD_COUNT), formatCount(SESSIONS), '100.0 %', mib(singleMemory)],
    ]),
    `- most-loaded / least-loaded primary: ${formatRatio(spread)} (goal ≤ ${SPREAD_GOAL.toFixed(1)}: ${spread <= SPREAD_GOAL ? 'met' : 'missed'})`,
    `#### The dashboard's first page (ms, median of ${REPEATS}, taking turns)`,
    markdownTable(['call', 'cluster', 'single', 'cluster / single'], [
      dashboardRow(`list, ${PAGE_SIZE} by activity`, c.activityMs, s.activityMs),
      dashboardRow(`list, ${PAGE_SIZE} by expiry`, c.expiryMs, s.expiryMs),
      dashboardRow('count', c.countMs, s.countMs),
    ]),
    `#### Sweep: ${formatCount(EXPIRED)} expired beside ${formatCount(SESSIONS)} live, \`purgeExpired(now, ${formatCount(PURGE_BATCH)})\` until a short batch`,
    markdownTable(['target', 'removed', 'calls', 'seconds', 'sessions/s', 'ms per call (median)', 'seeding the expired, sessions/s'], [sweepRow('cluster'), sweepRow('single')]),
    `- cluster / single sweep rate: ${formatRatio(clusterSweep.removed / clusterSweep.seconds / (singleSweep.removed / singleSweep.seconds))}; no failover during the run (primaries unchanged)`,
    `_Total time: ${((performance.now() - startedMs) / 60_000).toFixed(1)} min._`,
  ].join('\n\n');
}

let report: string;
try {
  report = await main();
} catch (error) {
  // A call cut short by an interruption: `abort` is cleaning up and ends the process.
  if (stopping) await new Promise<never>(() => undefined);
  throw error;
} finally {
  if (!stopping) await cleanUp();
}
process.stdout.write(`${report}\n`);
