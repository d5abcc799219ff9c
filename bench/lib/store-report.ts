/** Tables and target checks for the sweep, listing and memory benchmarks. */
import type { StoreKind } from '../../middleware/store.ts';
import { formatFixed, formatMs, formatRatio, markdownTable } from './markdown.ts';
import type { StoreBenchResult } from './store-bench.ts';
import type { TargetCheck } from './targets.ts';

const MB = 1024 * 1024;
const PURGE_GOAL_SECONDS: Record<StoreKind, number> = { redis: 5, postgres: 5, file: 20 };
const FIRST_PAGE_GOAL_MS: Record<StoreKind, number> = { redis: 50, postgres: 50, file: 1000 };
/** "Independent of how many sessions are stored": the heap after GC may grow at most this much from few to many. */
const HEAP_GROWTH_GOAL = 1.1;

const mb = (bytes: number) => formatFixed(bytes / MB, 1);
const purgeText = (r: StoreBenchResult, budget: number) => (r.purgeSeconds === undefined ? `> ${budget} (stopped)` : formatFixed(r.purgeSeconds, 2));

const count = (n: number) => n.toLocaleString('en-US');

/** Each row names its own counts: the stores are filled to different sizes (files hold fewer). */
export function storeTables(results: readonly StoreBenchResult[], counts: { few: number; purgeBudgetSeconds: number }): string {
  const few = count(counts.few);
  const sweep = markdownTable(
    ['store', 'live stored', 'expired purged', 'purge (s)', 'read p99 at rest (ms)', 'read p99 during purge (ms)', 'p99 ratio', 'read errors'],
    results.map((r) => [r.kind, count(r.stored), `${count(r.purged)} of ${count(r.expired)}`, purgeText(r, counts.purgeBudgetSeconds), formatMs(r.restP99Ms), formatMs(r.purgeP99Ms), formatRatio(r.purgeP99Ms / r.restP99Ms), String(r.readErrors)]),
  );
  const listing = markdownTable(
    ['store', 'live stored', 'first page, by activity (ms)', 'first page, by expiry (ms)', 'page in the middle (ms)', 'count live (ms)'],
    results.map((r) => [r.kind, count(r.stored), formatMs(r.firstPageActivityMs), formatMs(r.firstPageExpiryMs), formatMs(r.deepPageMs), formatMs(r.countMs)]),
  );
  const memory = markdownTable(
    ['store', 'many stored', `RSS, ${few} stored (MB)`, 'RSS, many stored (MB)', `heap, ${few} (MB)`, 'heap, many (MB)', 'heap growth'],
    results.map((r) => [r.kind, count(r.stored), mb(r.memoryFew.rssBytes), mb(r.memoryMany.rssBytes), mb(r.memoryFew.heapUsedBytes), mb(r.memoryMany.heapUsedBytes), formatRatio(r.memoryMany.heapUsedBytes / r.memoryFew.heapUsedBytes)]),
  );
  return [
    `### Sweep: purging the expired sessions while reads go on\n\n${sweep}`,
    `### Listing: the dashboard's store calls with many live sessions (page of 50, median)\n\n${listing}`,
    `### Server memory after GC, ${few} vs many stored sessions\n\n${memory}`,
  ].join('\n\n');
}

export function storeTargets(results: readonly StoreBenchResult[], counts: { few: number }): TargetCheck[] {
  return results.flatMap((r): TargetCheck[] => [
    { target: `purge ${count(r.expired)} expired among ${count(r.stored)} live`, scenario: r.kind, measured: r.purgeSeconds ?? Number.POSITIVE_INFINITY, goal: PURGE_GOAL_SECONDS[r.kind], unit: 's', direction: 'at-most' },
    { target: 'read p99 during purge vs at rest', scenario: r.kind, measured: r.purgeP99Ms / r.restP99Ms, goal: 3, unit: '×', direction: 'at-most' },
    { target: `first dashboard page, ${count(r.stored)} live`, scenario: r.kind, measured: r.firstPageActivityMs, goal: FIRST_PAGE_GOAL_MS[r.kind], unit: 'ms', direction: 'at-most' },
    { target: `heap after GC, ${count(r.stored)} vs ${count(counts.few)} stored`, scenario: r.kind, measured: r.memoryMany.heapUsedBytes / r.memoryFew.heapUsedBytes, goal: HEAP_GROWTH_GOAL, unit: '×', direction: 'at-most' },
  ]);
}
