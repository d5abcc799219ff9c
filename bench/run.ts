/**
 * `npm run bench`: the throughput benchmark against bare Koa and the peers,
 * then what the owner index costs a request, then the sweep, listing and
 * memory benchmarks per store, then the shared event log's size with many
 * events, printed as Markdown. `--smoke` runs everything briefly, as a quick
 * check that every case works;
 * `--only throughput|owners|stores|event-log`, `--stores redis,postgres,file` and
 * `--cases <text>[,<text>…]` (throughput cases whose name contains one) run a
 * part. Everything runs on 127.0.0.1 and stops by itself.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import type { StoreKind } from '../middleware/store.ts';
import { CASES } from './lib/cases.ts';
import { eventLogTables, runEventLogSize, type EventLogSizeResult, type EventLogSizeSettings } from './lib/event-log-size.ts';
import { ownerCostTable, runOwnerCost, type OwnerCostSample, type OwnerCostSettings } from './lib/owner-cost.ts';
import { benchPool, benchRedis, closeBenchConnections, removeActiveNamespaces } from './lib/namespaces.ts';
import { runStoreBench, type StoreBenchResult, type StoreBenchSettings } from './lib/store-bench.ts';
import { storeTables, storeTargets } from './lib/store-report.ts';
import { targetsTable, type TargetCheck } from './lib/targets.ts';
import { eventLogCostTable, runThroughput, throughputTables, throughputTargets, type ThroughputSettings } from './lib/throughput.ts';
import { CONNECTIONS } from './lib/load.ts';
import { buildLibrary, checkOutBaseline } from './lib/baseline.ts';
import { REPO_ROOT } from './lib/server-process.ts';

const STORES: readonly StoreKind[] = ['redis', 'postgres', 'file'];
const PARTS = ['throughput', 'owners', 'stores', 'event-log'] as const;

const { values: flags } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    stores: { type: 'string' },
    cases: { type: 'string' },
    baseline: { type: 'string' },
  },
});
if (flags.only && !(PARTS as readonly string[]).includes(flags.only)) throw new Error(`--only takes one of ${PARTS.join(', ')}`);
const runs = (part: (typeof PARTS)[number]) => !flags.only || flags.only === part;
const storeKinds = flags.stores ? (flags.stores.split(',') as StoreKind[]) : STORES;
if (!storeKinds.every((kind) => STORES.includes(kind))) throw new Error(`--stores takes a comma-separated list of ${STORES.join(', ')}`);
const caseFilter = flags.cases?.split(',');
// The events-in-memory twins priced the shared event log (issue 10): they run when asked for by name only.
const defaultCases = CASES.filter((c) => c.family !== 'events-in-memory' && (flags.baseline || c.family !== 'baseline'));
const cases = caseFilter ? CASES.filter((c) => caseFilter.some((text) => c.name.includes(text))) : defaultCases;
if (cases.length === 0) throw new Error(`--cases ${flags.cases} matches no case; the cases are: ${CASES.map((c) => c.name).join('; ')}`);

const throughputSettings: ThroughputSettings = flags.smoke
  ? { rounds: 1, warmupSeconds: 0.5, durationSeconds: 1.5, poolSize: 100 }
  : { rounds: 3, warmupSeconds: 1, durationSeconds: 4, poolSize: 300 };
// Whole seconds: autocannon rounds a run's duration up to one.
const ownerCostSettings: OwnerCostSettings = flags.smoke
  ? { pairs: 1, windowSeconds: 1, warmupSeconds: 1, poolSize: 60 }
  : { pairs: 5, windowSeconds: 1, warmupSeconds: 1, poolSize: 300 };
const storeSettings: StoreBenchSettings = flags.smoke
  ? { manySessions: { redis: 2_000, postgres: 2_000, file: 1_000 }, expiredSessions: 2_000, fewSessions: 200, poolSize: 100, readSeconds: 1, listRepeats: 1, purgeBudgetSeconds: 30 }
  : { manySessions: { redis: 1_000_000, postgres: 1_000_000, file: 200_000 }, expiredSessions: 100_000, fewSessions: 1_000, poolSize: 500, readSeconds: 3, listRepeats: 5, purgeBudgetSeconds: 40 };
const eventLogSettings: EventLogSizeSettings = flags.smoke
  ? { events: 5_000, batchSize: 500, readRepeats: 1 }
  : { events: 100_000, batchSize: 500, readRepeats: 5 };

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** A run that overruns this is stopped: servers exit with their parent, namespaces are removed. */
const DEADLINE_MS = (flags.smoke ? 15 : 60) * 60_000;

function abort(reason: string): void {
  progress(`${reason}: stopping and cleaning up`);
  void removeActiveNamespaces().finally(() => process.exit(2));
}
setTimeout(() => abort(`over the ${DEADLINE_MS / 60_000}-minute limit`), DEADLINE_MS).unref();
process.once('SIGINT', () => abort('interrupted'));

async function machineFacts(): Promise<string> {
  const redisInfo = await (await benchRedis()).info('server');
  const redisVersion = /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? 'unknown';
  const { rows } = await benchPool().query<{ server_version: string }>('SHOW server_version');
  const cores = cpus();
  return [
    `- machine: ${cores.length} cores (${cores[0]?.model.trim() ?? 'unknown CPU'})`,
    `- Node ${process.version}, Redis ${redisVersion}, PostgreSQL ${rows[0]?.server_version ?? 'unknown'}, all on 127.0.0.1`,
    `- load: autocannon, ${CONNECTIONS} connections, ${throughputSettings.durationSeconds} s per run after ${throughputSettings.warmupSeconds} s warm-up, ${throughputSettings.rounds} round(s), ~1 KB sessions, pool of ${throughputSettings.poolSize} sessions per run`,
  ].join('\n');
}

async function main(): Promise<void> {
  const startedMs = performance.now();
  // The servers run the compiled package, as an app that installs it does.
  await buildLibrary(REPO_ROOT, progress);
  const out: string[] = [`## sessionkeeper benchmark${flags.smoke ? ' (smoke)' : ''}\n`, await machineFacts()];
  const targets: TargetCheck[] = [];
  if (runs('throughput')) {
    const baseline = flags.baseline ? await checkOutBaseline(flags.baseline, progress) : undefined;
    if (baseline) out.push(`- baseline: commit \`${baseline.commit}\` (the \`baseline · <store>\` cases), compiled beside this one and run by the same servers`);
    const samples = await runThroughput({ ...throughputSettings, baselineLibrary: baseline?.library }, progress, cases).finally(() => baseline?.remove());
    out.push(...[throughputTables(samples), eventLogCostTable(samples)].filter((table) => table !== ''));
    targets.push(...throughputTargets(samples));
  }
  if (runs('owners')) {
    const samples: OwnerCostSample[] = [];
    for (const kind of storeKinds) samples.push(...(await runOwnerCost(kind, ownerCostSettings, progress)));
    out.push(ownerCostTable(samples));
  }
  if (runs('stores')) {
    const results: StoreBenchResult[] = [];
    for (const kind of storeKinds) results.push(await runStoreBench(kind, storeSettings, progress));
    const counts = { few: storeSettings.fewSessions, purgeBudgetSeconds: storeSettings.purgeBudgetSeconds };
    out.push(storeTables(results, counts));
    targets.push(...storeTargets(results, counts));
  }
  if (runs('event-log')) {
    const results: EventLogSizeResult[] = [];
    for (const kind of storeKinds) results.push(await runEventLogSize(kind, eventLogSettings, progress));
    out.push(eventLogTables(results, eventLogSettings));
  }
  if (targets.length > 0) out.push(`### Targets\n\n${targetsTable(targets)}`);
  out.push(`_Total time: ${((performance.now() - startedMs) / 60_000).toFixed(1)} min._`);
  process.stdout.write(`${out.join('\n\n')}\n`);
}

try {
  await main();
} finally {
  await closeBenchConnections();
}
