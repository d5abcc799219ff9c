/**
 * What keeping the owner index costs a request (issue 15). Per store, one
 * sessionkeeper server with SESSION_TOUCH_AFTER=0 (every read rolls: a store
 * write, as every write does) holds two pools of sessions: signed in through a
 * route that calls `setSessionOwner`, and made by `POST /new` without an
 * owner. The two pools are driven in alternating windows, owned first in even
 * pairs and last in odd ones, so both kinds run in the same process, on the
 * same store, side by side; each ratio is taken within a pair and the median
 * over the pairs reported. On Redis, where the index's work happens, the time
 * Redis spent running the store's scripts (INFO commandstats: EVALSHA, EVAL)
 * per request is taken as well: the store's every session command is a script.
 */
import type { StoreKind } from '../../middleware/store.ts';
import { createSessionPool, drive, type LoadResult } from './load.ts';
import { formatCount, formatFixed, formatRatio, markdownTable } from './markdown.ts';
import { benchRedis, createBenchNamespace, removeBenchNamespace } from './namespaces.ts';
import { ServerProcess } from './server-process.ts';
import { median } from './stats.ts';

/** Reads (each one rolls) and writes; sign-in itself is a one-off per session, not a request of every page. */
export type OwnerCostScenario = 'read' | 'write';
const OWNER_COST_SCENARIOS: readonly OwnerCostScenario[] = ['read', 'write'];
/** An owner signed in on a few devices, as people are. */
const SESSIONS_PER_OWNER = 3;

export interface OwnerCostSettings {
  /** Measured windows of each kind per scenario. */
  pairs: number;
  windowSeconds: number;
  /** One run of each kind before the measured windows of a scenario. */
  warmupSeconds: number;
  /** Sessions of each kind. */
  poolSize: number;
}

export interface OwnerCostSample {
  kind: StoreKind;
  scenario: OwnerCostScenario;
  owned: boolean;
  pair: number;
  load: LoadResult;
  cpuMicrosPerRequest: number;
  /** µs Redis spent in the store's scripts per request (redis only): the indexes are kept there. */
  redisScriptMicrosPerRequest?: number;
}

/** µs Redis has spent running scripts so far (all clients: a test run elsewhere on the same Redis adds to it). */
async function redisScriptMicros(): Promise<number> {
  const info = await (await benchRedis()).info('commandstats');
  const usec = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=\\d+,usec=(\\d+)`).exec(info)?.[1] ?? 0);
  return usec('evalsha') + usec('eval');
}

/** Every window of both kinds on one store; `progress` gets a line per scenario. */
export async function runOwnerCost(kind: StoreKind, settings: OwnerCostSettings, progress: (line: string) => void): Promise<OwnerCostSample[]> {
  const namespace = await createBenchNamespace();
  try {
    const server = await ServerProcess.start('sessionkeeper.ts', [kind, 'touch-every-request', 'sign-in'], namespace);
    try {
      const owned = await createSessionPool(server.port, settings.poolSize, (index) => `user-${Math.floor(index / SESSIONS_PER_OWNER)}@example.com`);
      const plain = await createSessionPool(server.port, settings.poolSize);
      const samples: OwnerCostSample[] = [];
      for (const scenario of OWNER_COST_SCENARIOS) {
        const run = (isOwned: boolean, durationSeconds: number) => drive(server.port, { scenario, cookies: isOwned ? owned : plain, durationSeconds });
        await run(true, settings.warmupSeconds);
        await run(false, settings.warmupSeconds);
        for (let pair = 0; pair < settings.pairs; pair++) {
          for (const isOwned of pair % 2 === 0 ? [true, false] : [false, true]) {
            const redisBefore = kind === 'redis' ? await redisScriptMicros() : 0;
            const cpuBefore = await server.cpuMicros();
            const load = await run(isOwned, settings.windowSeconds);
            const cpuMicros = (await server.cpuMicros()) - cpuBefore;
            const requests = Math.max(1, load.requests);
            const sample: OwnerCostSample = { kind, scenario, owned: isOwned, pair, load, cpuMicrosPerRequest: cpuMicros / requests };
            if (kind === 'redis') sample.redisScriptMicrosPerRequest = ((await redisScriptMicros()) - redisBefore) / requests;
            samples.push(sample);
          }
        }
        const ratio = ownerRatio(samples.filter((s) => s.scenario === scenario), (s) => s.load.requestsPerSecond);
        progress(`owners ${kind} ${scenario}: with an owner ${formatRatio(ratio)} the req/s of without`);
      }
      return samples;
    } finally {
      await server.stop();
    }
  } finally {
    await removeBenchNamespace(namespace);
  }
}

/** Per pair, owned over not owned (of what `pick` takes); their median. */
function ownerRatio(samples: readonly OwnerCostSample[], pick: (sample: OwnerCostSample) => number): number {
  const ratios: number[] = [];
  for (const owned of samples.filter((s) => s.owned)) {
    const plain = samples.find((s) => !s.owned && s.pair === owned.pair);
    if (plain) ratios.push(pick(owned) / pick(plain));
  }
  return median(ratios);
}

/** One row per store and scenario: req/s and server CPU per request of both kinds, and their ratios. */
export function ownerCostTable(samples: readonly OwnerCostSample[]): string {
  const kinds = [...new Set(samples.map((s) => s.kind))];
  const pairs = new Set(samples.map((s) => s.pair)).size;
  const rows = kinds.flatMap((kind) =>
    OWNER_COST_SCENARIOS.map((scenario) => {
      const mine = samples.filter((s) => s.kind === kind && s.scenario === scenario);
      const of = (owned: boolean, pick: (s: OwnerCostSample) => number) => median(mine.filter((s) => s.owned === owned).map(pick));
      const rps = (s: OwnerCostSample) => s.load.requestsPerSecond;
      const cpu = (s: OwnerCostSample) => s.cpuMicrosPerRequest;
      const redisScripts = (s: OwnerCostSample) => s.redisScriptMicrosPerRequest ?? Number.NaN;
      return [
        kind,
        scenario,
        formatCount(of(false, rps)),
        formatCount(of(true, rps)),
        formatRatio(ownerRatio(mine, rps)),
        formatFixed(of(false, cpu), 0),
        formatFixed(of(true, cpu), 0),
        formatRatio(ownerRatio(mine, cpu)),
        formatFixed(of(false, redisScripts), 1),
        formatFixed(of(true, redisScripts), 1),
        formatRatio(ownerRatio(mine, redisScripts)),
        String(mine.reduce((sum, s) => sum + s.load.errors, 0)),
      ];
    }),
  );
  const header = ['store', 'scenario', 'req/s, no owner', 'req/s, owner', 'req/s ratio', 'server CPU µs/req, no owner', 'server CPU µs/req, owner', 'server CPU ratio', 'Redis scripts µs/req, no owner', 'Redis scripts µs/req, owner', 'Redis scripts ratio', 'errors'];
  return `### Owners: the owner index per request, every request a store write (median of ${pairs} pair${pairs === 1 ? '' : 's'} of windows)\n\n${markdownTable(header, rows, 2)}`;
}
