/**
 * `sessionkeeper sessions …`: what the dashboard shows and does, from a
 * shell. Each action is the dashboard's own (`admin/actions.ts`), so it is
 * logged the same way, as a lifecycle event `by: admin`.
 */
import { endAllSessions, endOneSession, endSessionsOfOwner, listSessions, purgeExpiredNow, readSession, readStats, type PreviousStoreStats } from '../admin/actions.ts';
import { toApiSession } from '../admin/api-routes.ts';
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import { MAX_PAGE_SIZE, type ListSort, type SessionSummary } from '../middleware/store.ts';
import type { Command } from './args.ts';
import { CommandFailed } from './errors.ts';
import { formatSessionDetails, formatSessionTable, jsonLine, printable, type Streams } from './output.ts';
import { purgeProgress } from './progress.ts';

export type SessionsCommand = Extract<Command, { name: `sessions ${string}` }>;

const NO_SUCH_SESSION = 'no live session has that id: it has expired or was ended';

/** Runs one `sessions` command; throws CommandFailed when it cannot do what was asked. */
export async function runSessionsCommand(sessions: SessionkeeperCore, command: SessionsCommand, { stdout, stderr }: Streams): Promise<void> {
  const nowMs = Date.now();
  switch (command.name) {
    case 'sessions list': {
      const listed: SessionSummary[] = [];
      await eachListed(sessions, command, nowMs, (page) => {
        if (command.json) stdout.write(page.map((session) => jsonLine(toApiSession(session))).join(''));
        else listed.push(...page);
      });
      if (command.json) return;
      const none = command.owner === undefined ? 'no live sessions' : `no live sessions of owner ${quoted(command.owner)}`;
      stdout.write(listed.length > 0 ? formatSessionTable(listed, nowMs) : `${none}\n`);
      return;
    }
    case 'sessions count': {
      // During a switch the stats count both stores (and the current one once, as `live`).
      const stats = sessions.transition && (await readStats(sessions, nowMs));
      const live = stats ? stats.live : await sessions.store.count(nowMs);
      if (command.json) {
        stdout.write(jsonLine(stats ? { live, previous: stats.previous, movedLastHour: stats.movedLastHour } : { live }));
        return;
      }
      stdout.write(`${live}\n`);
      // stdout stays the one number scripts read; the switch is told beside it, for the operator.
      if (stats?.previous) stderr.write(`${describeSwitch(stats.previous, stats.movedLastHour ?? 0)}\n`);
      return;
    }
    case 'sessions show': {
      const session = await readSession(sessions, command.id, nowMs);
      if (!session) throw new CommandFailed(NO_SUCH_SESSION);
      stdout.write(command.json ? jsonLine(toApiSession(session)) : formatSessionDetails(session, nowMs));
      return;
    }
    case 'sessions end': {
      if (!(await endOneSession(sessions, command.id))) throw new CommandFailed(NO_SUCH_SESSION);
      stdout.write(command.json ? jsonLine({ removed: 1 }) : `ended session ${command.id}\n`);
      return;
    }
    case 'sessions end --owner': {
      const removed = await endSessionsOfOwner(sessions, command.owner);
      stdout.write(command.json ? jsonLine({ removed }) : `ended ${plural(removed, 'session')} of owner ${quoted(command.owner)}\n`);
      return;
    }
    case 'sessions purge-expired': {
      const progress = purgeProgress(stderr);
      const removed = await purgeExpiredNow(sessions, (soFar) => progress.update(soFar)).finally(() => progress.done());
      stdout.write(command.json ? jsonLine({ removed }) : `removed ${plural(removed, 'expired session')}\n`);
      return;
    }
    case 'sessions end-all': {
      const removed = await endAllSessions(sessions);
      stdout.write(command.json ? jsonLine({ removed }) : `ended ${plural(removed, 'session')}\n`);
      return;
    }
  }
}

/** Pages through the list as the dashboard does (cursor pages of at most MAX_PAGE_SIZE) until `limit` sessions. */
async function eachListed(
  sessions: SessionkeeperCore,
  { sort, limit, owner }: { sort: ListSort; limit: number; owner?: string },
  nowMs: number,
  onPage: (page: SessionSummary[]) => void,
): Promise<void> {
  let cursor: string | undefined;
  for (let left = limit; left > 0; ) {
    const page = await listSessions(sessions, { sort, limit: Math.min(left, MAX_PAGE_SIZE), cursor, owner }, nowMs);
    onPage(page.sessions);
    left -= page.sessions.length;
    if (page.nextCursor === null || page.sessions.length === 0) return;
    cursor = page.nextCursor;
  }
}

/** A backend switch under way, in one line: what is left in the previous store and what has moved. */
function describeSwitch(previous: PreviousStoreStats, movedLastHour: number): string {
  const left = previous.live === null ? `the ${previous.store} store is not answering` : `${plural(previous.live, 'session')} still in the ${previous.store} store`;
  return `switching from ${previous.store}: ${left}, ${movedLastHour} moved in the last hour (sessionkeeper migrate moves the rest)`;
}

/** An owner in a line of output: quoted, so that spaces and quotes in it stay visible, and safe for the terminal. */
function quoted(owner: string): string {
  return printable(JSON.stringify(owner));
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
