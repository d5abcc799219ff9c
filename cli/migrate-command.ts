/**
 * `sessionkeeper migrate [--dry-run]`: moves every live session from
 * SESSION_STORE_PREVIOUS to SESSION_STORE (`middleware/migration.ts`), with a
 * progress line on stderr and a summary on stdout. Exit status 1 when some
 * sessions could not be moved: they are still in the previous store, and the
 * next run moves them.
 */
import { ConfigError } from '../middleware/settings.ts';
import { migrateSessions, type MigrationSummary } from '../middleware/migration.ts';
import type { SessionkeeperConfig } from '../middleware/config.ts';
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import type { Command } from './args.ts';
import { CommandFailed } from './errors.ts';
import { jsonLine, type Streams } from './output.ts';
import { migrationProgress } from './progress.ts';

export type MigrateCommand = Extract<Command, { name: 'migrate' }>;

/** Throws ConfigError unless the settings name a previous store: checked before any store is opened. */
export function assertSwitchConfigured(config: SessionkeeperConfig): void {
  if (config.previousStore) return;
  throw new ConfigError('SESSION_STORE_PREVIOUS', 'migrate moves sessions from SESSION_STORE_PREVIOUS to SESSION_STORE: set SESSION_STORE_PREVIOUS to the store they are in now (README: "Switching backends")');
}

/** Runs the migration on sessions opened with a previous store (`assertSwitchConfigured`). */
export async function runMigrateCommand(sessions: SessionkeeperCore, command: MigrateCommand, { stdout, stderr }: Streams): Promise<void> {
  assertSwitchConfigured(sessions.config);
  const transition = sessions.transition!;
  const from = transition.previous.kind;
  const to = transition.current.kind;
  const started = performance.now();
  let progress: ReturnType<typeof migrationProgress> | undefined;
  let total = 0;
  const summary = await migrateSessions(transition, sessions.sweeper, {
    dryRun: command.dryRun,
    onProgress: (soFar) => {
      total = soFar.total;
      progress ??= migrationProgress(soFar.total, stderr);
      progress.update(soFar.moved + soFar.alreadyThere + soFar.expired + soFar.failed);
    },
  }).finally(() => progress?.done());
  const seconds = (performance.now() - started) / 1000;
  const leftInPrevious = await transition.previous.count(Date.now());
  if (command.json) stdout.write(jsonLine({ dryRun: command.dryRun, from, to, ...summary, leftInPrevious, seconds: Math.round(seconds * 10) / 10 }));
  else stdout.write(describe(summary, { dryRun: command.dryRun, from, to, seconds, leftInPrevious }));
  // A mistyped PREVIOUS_… setting names an empty store (created by opening it), and "nothing left" would be misread.
  if (total === 0) {
    stderr.write(`the ${from} store at ${transition.previous.location} held no live session: if your sessions are elsewhere, correct SESSION_STORE_PREVIOUS and the PREVIOUS_… settings before removing them\n`);
  }
  if (summary.failed > 0) {
    throw new CommandFailed(`${summary.failed} session${summary.failed === 1 ? '' : 's'} could not be moved and are still in the ${from} store: run sessionkeeper migrate again once both stores answer`);
  }
}

function describe(summary: MigrationSummary, run: { dryRun: boolean; from: string; to: string; seconds: number; leftInPrevious: number }): string {
  const rate = Math.round(summary.moved / Math.max(run.seconds, 0.001));
  const lines = run.dryRun
    ? [`would move ${summary.moved} sessions from ${run.from} to ${run.to} (dry run: nothing was written)`]
    : [`moved ${summary.moved} sessions from ${run.from} to ${run.to} in ${run.seconds.toFixed(1)} s (${rate}/s)`];
  lines.push(`already there: ${summary.alreadyThere}`, `expired or ended, skipped: ${summary.expired}`, `failed: ${summary.failed}`);
  if (!run.dryRun) {
    lines.push(run.leftInPrevious === 0
      ? `the ${run.from} store holds no live session: SESSION_STORE_PREVIOUS can be removed (then restart)`
      : `the ${run.from} store still holds ${run.leftInPrevious} live sessions: run sessionkeeper migrate again before removing SESSION_STORE_PREVIOUS`);
  }
  return `${lines.join('\n')}\n`;
}
