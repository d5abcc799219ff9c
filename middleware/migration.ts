/**
 * The bulk migration of a backend switch (`sessionkeeper migrate`): every
 * live session of the previous store is moved to the current one, as a
 * request would move it (`session-move.ts`), so it is safe while the
 * application serves requests in transition mode, and a run that is killed
 * and run again finishes the work: what moved is no longer in the previous
 * store, and what was copied but not yet removed is settled. With `dryRun`,
 * nothing is written: the summary says what a run would do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { newSessionId, publicIdOf } from './ids.ts';
import { MOVE_SETTLE_MS } from './session-move.ts';
import { ConfigError } from './settings.ts';
import { liveIdBatches, MAX_PAGE_SIZE } from './store.ts';
import type { Sweeper } from './sweeper.ts';
import type { SwitchingStore } from './switching-store.ts';

/** What a migration did (or, dry, would do). */
export interface MigrationSummary {
  /** Sessions this run moved: copied to the current store, then removed from the previous one. */
  moved: number;
  /** Sessions the current store held already (moved by a request or an earlier run); a copy left behind in the previous store is removed. */
  alreadyThere: number;
  /** Sessions that expired or were ended before they could be moved, and expired sessions swept from the previous store. */
  expired: number;
  /** Sessions whose move or settling failed (a store did not answer): still in the previous store, moved or settled by the next run. */
  failed: number;
}

/** The summary so far, and how many sessions the previous store held when the run began. */
export interface MigrationProgress extends MigrationSummary {
  total: number;
}

export interface MigrationOptions {
  /** Reads and counts only; writes nothing. */
  dryRun?: boolean;
  /** Ids read from the previous store at a time. */
  batchSize?: number;
  /** Sessions moved at once: store round trips overlap, the stores see a bounded load. */
  concurrency?: number;
  /** How long to wait before settling sessions found in both stores, so that moves in flight elsewhere finish first. */
  settleMs?: number;
  /** Told the running totals after each batch. */
  onProgress?: (progress: MigrationProgress) => void;
}

const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_CONCURRENCY = 16;

/**
 * Moves every session live in the previous store of `transition` to its current store; resolves to the
 * summary. `sweeper` removes (and logs) the previous store's expired sessions at the end, so that nothing
 * is left behind there once the switch is over. Rejects when the previous store cannot be read at all, and
 * with a ConfigError, before moving anything, when the two stores turn out to be one (see `assertTwoStores`).
 */
export async function migrateSessions(transition: SwitchingStore, sweeper: Sweeper, options: MigrationOptions = {}): Promise<MigrationSummary> {
  const { dryRun = false, batchSize = DEFAULT_BATCH_SIZE, concurrency = DEFAULT_CONCURRENCY, settleMs = MOVE_SETTLE_MS, onProgress } = options;
  checkOption('batchSize', batchSize, 1, MAX_PAGE_SIZE);
  checkOption('concurrency', concurrency, 1, 1000);
  checkOption('settleMs', settleMs, 0, 3_600_000);
  const summary: MigrationSummary = { moved: 0, alreadyThere: 0, expired: 0, failed: 0 };
  const total = await transition.previous.count(Date.now());
  if (!dryRun) await assertTwoStores(transition);
  const inBoth: string[] = [];
  const tell = () => onProgress?.({ ...summary, total });

  const migrateOne = async (id: string): Promise<void> => {
    try {
      const outcome = await (dryRun ? lookAt(transition, id) : moveOne(transition, id));
      if (outcome === 'moved') summary.moved += 1;
      else if (outcome === 'gone') summary.expired += 1;
      else {
        summary.alreadyThere += 1;
        if (outcome === 'in-both') inBoth.push(id);
      }
    } catch {
      // The guard has logged the store's failure once; the session stays where it is, for the next run.
      summary.failed += 1;
    }
  };

  // The walk is the raw store's own where it has one (one pass over a directory), else the guarded list's pages.
  const { previous } = transition;
  for await (const ids of liveIdBatches(previous.inner.walkIds ? previous.inner : previous, Date.now(), batchSize)) {
    await eachConcurrently(ids, concurrency, migrateOne);
    tell();
  }
  if (!dryRun && inBoth.length > 0) {
    await sleep(settleMs);
    await eachConcurrently(inBoth, concurrency, (id) =>
      transition.settle(id, Date.now()).catch(() => {
        summary.failed += 1;
      }),
    );
  }
  if (!dryRun) summary.expired += await sweeper.sweepPreviousNow();
  tell();
  return summary;
}

/**
 * Refuses settings that reach one store by two names (`localhost` and `127.0.0.1`, a directory and a symlink
 * to it, a table by its search path): every session would look as if it were in both stores, and settling
 * would remove the only copy. A record written in the current store (empty, removed again at once; a moment
 * in the current store's list and count) is looked for in the previous one.
 */
async function assertTwoStores(transition: SwitchingStore): Promise<void> {
  const probeId = publicIdOf(newSessionId());
  const now = Date.now();
  const { current, previous } = transition;
  await current.create(probeId, { data: {}, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });
  try {
    if (await previous.get(probeId, now)) {
      throw new ConfigError(
        'SESSION_STORE_PREVIOUS',
        `SESSION_STORE_PREVIOUS names the same sessions as SESSION_STORE (${previous.location}), under another name: point the PREVIOUS_… settings at where the sessions are now; nothing was moved`,
      );
    }
  } finally {
    await current.destroy(probeId);
  }
}

/** What became of one session: `in-both` when the current store holds it and a copy is still in the previous one. */
type MigrationOutcome = 'moved' | 'already-there' | 'in-both' | 'gone';

async function moveOne(transition: SwitchingStore, id: string): Promise<MigrationOutcome> {
  const record = await transition.previous.get(id, Date.now());
  if (!record) return (await isInCurrent(transition, id)) ? 'already-there' : 'gone';
  const outcome = await transition.move(id, record);
  if (outcome === 'already-there') return 'in-both';
  return outcome === 'ended' ? 'gone' : 'moved';
}

/** A dry run's verdict: what `moveOne` would most likely do, from reads alone. */
async function lookAt(transition: SwitchingStore, id: string): Promise<MigrationOutcome> {
  const record = await transition.previous.get(id, Date.now());
  if (await isInCurrent(transition, id)) return record ? 'in-both' : 'already-there';
  return record ? 'moved' : 'gone';
}

async function isInCurrent(transition: SwitchingStore, id: string): Promise<boolean> {
  return (await transition.current.get(id, Date.now())) !== undefined;
}

/** A zero or fractional batch or concurrency would move nothing, or page a store wrongly: refused up front. */
function checkOption(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`migrateSessions: ${name} must be a whole number from ${min} to ${max}, not ${value}`);
  }
}

/** Runs `task` on every item, at most `concurrency` at a time. */
async function eachConcurrently<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
