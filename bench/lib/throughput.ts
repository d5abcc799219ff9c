/**
 * The throughput benchmark: every case under every scenario, each run on a
 * fresh server process and namespace, over several rounds whose case order
 * alternates (rotated, and reversed every other round), so no case always
 * runs first or last. Ratios compare runs of the same round and scenario.
 */
import { CASES, CEILING, expressPeerOn, KOA_SESSION_PEER, type BenchCase } from './cases.ts';
import { createSessionPool, drive, placeholderCookies, type LoadResult, type Scenario } from './load.ts';
import { formatCount, formatFixed, formatMs, formatRatio, markdownTable } from './markdown.ts';
import { createBenchNamespace, removeBenchNamespace } from './namespaces.ts';
import { ServerProcess } from './server-process.ts';
import { median } from './stats.ts';
import type { TargetCheck } from './targets.ts';

export const SCENARIOS: readonly Scenario[] = ['read', 'write', 'new'];

const SCENARIO_TITLES: Record<Scenario, string> = {
  read: 'read — GET, session loaded',
  write: 'write — POST, ~1 KB stored',
  new: 'new — no cookie, session created',
};

export interface ThroughputSettings {
  rounds: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Sessions created before a read or write run; each connection cycles through its share. */
  poolSize: number;
}

export interface Sample {
  benchCase: BenchCase;
  scenario: Scenario;
  round: number;
  load: LoadResult;
  cpuMicrosPerRequest: number;
}

/** Rotated by the round and reversed on odd rounds. */
function orderFor<T>(round: number, items: readonly T[]): T[] {
  const shift = round % items.length;
  const rotated = [...items.slice(shift), ...items.slice(0, shift)];
  return round % 2 === 1 ? rotated.reverse() : rotated;
}

async function runOne(benchCase: BenchCase, scenario: Scenario, round: number, settings: ThroughputSettings): Promise<Sample> {
  const namespace = await createBenchNamespace();
  try {
    const server = await ServerProcess.start(benchCase.server, benchCase.args, namespace);
    try {
      const cookies = scenario === 'new' ? [] : benchCase.family === 'ceiling' ? placeholderCookies(settings.poolSize) : await createSessionPool(server.port, settings.poolSize);
      if (settings.warmupSeconds > 0) await drive(server.port, { scenario, cookies, durationSeconds: settings.warmupSeconds });
      const cpuBefore = await server.cpuMicros();
      const load = await drive(server.port, { scenario, cookies, durationSeconds: settings.durationSeconds });
      const cpuAfter = await server.cpuMicros();
      return { benchCase, scenario, round, load, cpuMicrosPerRequest: (cpuAfter - cpuBefore) / Math.max(1, load.requests) };
    } finally {
      await server.stop();
    }
  } finally {
    await removeBenchNamespace(namespace);
  }
}

/** Runs every round; `progress` gets one line per run. */
export async function runThroughput(settings: ThroughputSettings, progress: (line: string) => void): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    for (const scenario of SCENARIOS) {
      for (const benchCase of orderFor(round, CASES.filter((c) => c.scenarios.includes(scenario)))) {
        const sample = await runOne(benchCase, scenario, round, settings);
        samples.push(sample);
        const { requestsPerSecond, p99Ms, errors } = sample.load;
        progress(`round ${round + 1}/${settings.rounds} ${scenario.padEnd(5)} ${benchCase.name.padEnd(38)} ${formatCount(requestsPerSecond).padStart(7)} req/s  p99 ${formatMs(p99Ms)} ms${errors ? `  ${errors} errors` : ''}`);
      }
    }
  }
  return samples;
}

/** Per round, the ratio of one case's req/s to another's in the same scenario; their median. */
export function medianRatio(samples: readonly Sample[], scenario: Scenario, of: BenchCase, to: BenchCase): number {
  const ratios: number[] = [];
  for (const sample of samples) {
    if (sample.scenario !== scenario || sample.benchCase !== of) continue;
    const base = samples.find((s) => s.scenario === scenario && s.round === sample.round && s.benchCase === to);
    if (base) ratios.push(sample.load.requestsPerSecond / base.load.requestsPerSecond);
  }
  return median(ratios);
}

/** One Markdown table per scenario: medians over the rounds. */
export function throughputTables(samples: readonly Sample[]): string {
  const rounds = new Set(samples.map((s) => s.round)).size;
  return SCENARIOS.map((scenario) => {
    const rows = CASES.filter((c) => c.scenarios.includes(scenario)).map((benchCase) => {
      const mine = samples.filter((s) => s.scenario === scenario && s.benchCase === benchCase);
      const of = (pick: (s: Sample) => number) => median(mine.map(pick));
      return [
        benchCase.name,
        formatCount(of((s) => s.load.requestsPerSecond)),
        formatMs(of((s) => s.load.p50Ms)),
        formatMs(of((s) => s.load.p99Ms)),
        formatFixed(of((s) => s.cpuMicrosPerRequest), 0),
        formatRatio(medianRatio(samples, scenario, benchCase, CEILING)),
        String(mine.reduce((sum, s) => sum + s.load.errors, 0)),
      ];
    });
    const header = ['case', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', '× bare Koa', 'errors'];
    return `### ${SCENARIO_TITLES[scenario]} (median of ${rounds} round${rounds === 1 ? '' : 's'})\n\n${markdownTable(header, rows)}`;
  }).join('\n\n');
}

/** The throughput targets of the issue, each a ratio measured within the same rounds. */
export function throughputTargets(samples: readonly Sample[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const benchCase of CASES.filter((c) => c.family === 'sessionkeeper')) {
    const peer = expressPeerOn(benchCase.backend!);
    for (const scenario of SCENARIOS) {
      checks.push({ target: `${benchCase.name} vs ${peer.name}`, scenario, measured: medianRatio(samples, scenario, benchCase, peer), goal: 3, unit: '×' });
    }
  }
  const redis = CASES.find((c) => c.family === 'sessionkeeper' && c.backend === 'redis')!;
  for (const scenario of SCENARIOS) {
    const goal = scenario === 'write' ? 0.9 : 1;
    checks.push({ target: `${redis.name} vs ${KOA_SESSION_PEER.name}`, scenario, measured: medianRatio(samples, scenario, redis, KOA_SESSION_PEER), goal, unit: '×' });
  }
  return checks;
}
