/**
 * `npm run bench`: the throughput benchmark against bare Koa and the peers,
 * then the sweep, listing and memory benchmarks per store, printed as
 * Markdown. `--smoke` runs everything briefly, as a quick check that every
 * case works; `--only throughput|stores` and `--stores redis,postgres,file`
 * run a part. Everything runs on 127.0.0.1 and stops by itself.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import type { StoreKind } from '../middleware/store.ts';
import { benchPool, benchRedis, closeBenchConnections, removeActiveNamespaces } from './lib/namespaces.ts';
import { runStoreBench, type StoreBenchResult, type StoreBenchSettings } from './lib/store-bench.ts';
import { storeTables, storeTargets } from './lib/store-report.ts';
import { targetsTable, type TargetCheck } from './lib/targets.ts';
import { runThroughput, throughputTables, throughputTargets, type ThroughputSettings } from './lib/throughput.ts';
import { CONNECTIONS } from './lib/load.ts';

const STORES: readonly StoreKind[] = ['redis', 'postgres', 'file'];

const { values: flags } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    stores: { type: 'string' },
  },
});
if (flags.only && flags.only !== 'throughput' && flags.only !== 'stores') throw new Error('--only takes throughput or stores');
const storeKinds = flags.stores ? (flags.stores.split(',') as StoreKind[]) : STORES;
if (!storeKinds.every((kind) => STORES.includes(kind))) throw new Error(`--stores takes a comma-separated list of ${STORES.join(', ')}`);

const throughputSettings: ThroughputSettings = flags.smoke
  ? { rounds: 1, warmupSeconds: 0.5, durationSeconds: 1.5, poolSize: 100 }
  : { rounds: 3, warmupSeconds: 1, durationSeconds: 4, poolSize: 300 };
const storeSettings: StoreBenchSettings = flags.smoke
  ? { manySessions: 2_000, fewSessions: 200, poolSize: 100, readSeconds: 1, listRepeats: 1, purgeBudgetSeconds: 30 }
  : { manySessions: 100_000, fewSessions: 1_000, poolSize: 500, readSeconds: 3, listRepeats: 5, purgeBudgetSeconds: 40 };

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** A run that overruns this is stopped: servers exit with their parent, namespaces are removed. */
const DEADLINE_MS = (flags.smoke ? 10 : 30) * 60_000;

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
  const out: string[] = [`## sessionkeeper benchmark${flags.smoke ? ' (smoke)' : ''}\n`, await machineFacts()];
  const targets: TargetCheck[] = [];
  if (flags.only !== 'stores') {
    const samples = await runThroughput(throughputSettings, progress);
    out.push(throughputTables(samples));
    targets.push(...throughputTargets(samples));
  }
  if (flags.only !== 'throughput') {
    const results: StoreBenchResult[] = [];
    for (const kind of storeKinds) results.push(await runStoreBench(kind, storeSettings, progress));
    const counts = { many: storeSettings.manySessions, few: storeSettings.fewSessions, purgeBudgetSeconds: storeSettings.purgeBudgetSeconds };
    out.push(storeTables(results, counts));
    targets.push(...storeTargets(results, counts));
  }
  out.push(`### Targets\n\n${targetsTable(targets)}`);
  out.push(`_Total time: ${((performance.now() - startedMs) / 60_000).toFixed(1)} min._`);
  process.stdout.write(`${out.join('\n\n')}\n`);
}

try {
  await main();
} finally {
  await closeBenchConnections();
}
