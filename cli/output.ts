/**
 * How the CLI writes for people: aligned columns, times relative to now
 * ("in 29m 12s", "3m ago"), sizes in KiB, and every text that came from the
 * store made safe for a terminal. `--json` output is the API's JSON instead.
 */
import { describeEvent, formatTimeAgo, formatTimeLeft, shortId } from '../admin/format.ts';
import type { LifecycleEvent, LifecycleEventName } from '../middleware/events.ts';
import type { SessionSummary } from '../middleware/store.ts';
import { formatBytes, formatTime } from '../web/format.ts';

/** Where a command writes: its output (stdout), and what is for people only (stderr: progress, notices). */
export interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
}

/** Control characters (escape sequences, carriage returns) of stored text shown as `\u001b`, never sent to the terminal. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Rows under a header, each column as wide as its widest cell, two spaces apart; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ');
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

export const SESSION_COLUMNS = ['ID', 'CREATED', 'LAST SEEN', 'EXPIRES', 'SIZE', 'KEYS'] as const;

/**
 * `sessions list` for people: a row per session, and an OWNER column last (owners may be long, and the
 * last column is not padded) when one of them has an owner; `-` for a session without one.
 */
export function formatSessionTable(sessions: readonly SessionSummary[], nowMs: number): string {
  const rows = sessions.map((session) => sessionRow(session, nowMs));
  if (!sessions.some((session) => session.owner !== undefined)) return formatTable(SESSION_COLUMNS, rows);
  const withOwners = rows.map((row, index) => [...row, ownerCell(sessions[index]!.owner)]);
  return formatTable([...SESSION_COLUMNS, 'OWNER'], withOwners);
}

/** One session as a row of `sessions list`: the full id, so that it can be pasted into `sessions end`. */
export function sessionRow(session: SessionSummary, nowMs: number): string[] {
  return [
    session.id,
    formatTimeAgo(session.createdAt, nowMs),
    formatTimeAgo(session.lastSeenAt, nowMs),
    formatTimeLeft(session.expiresAt, nowMs),
    formatBytes(session.sizeBytes),
    keyNames(session.keys),
  ];
}

/** `sessions show`: one labelled line per fact, absolute times beside relative ones. */
export function formatSessionDetails(session: SessionSummary, nowMs: number): string {
  const facts: [string, string][] = [
    ['id', session.id],
    ['created', `${formatTime(session.createdAt)} (${formatTimeAgo(session.createdAt, nowMs)})`],
    ['last seen', `${formatTime(session.lastSeenAt)} (${formatTimeAgo(session.lastSeenAt, nowMs)})`],
    ['expires', `${formatTime(session.expiresAt)} (${formatTimeLeft(session.expiresAt, nowMs)})`],
    ['size', `${formatBytes(session.sizeBytes)} of JSON`],
    ['keys', keyNames(session.keys)],
  ];
  if (session.owner !== undefined) facts.push(['owner', ownerCell(session.owner)]);
  if (session.device !== undefined) facts.push(['device', printable(`${session.device.userAgent} from ${session.device.address}`)]);
  const width = Math.max(...facts.map(([label]) => label.length));
  return facts.map(([label, value]) => `${label.padEnd(width)}  ${value}\n`).join('');
}

function ownerCell(owner: string | undefined): string {
  return owner === undefined ? '-' : printable(owner);
}

function keyNames(keys: readonly string[]): string {
  return keys.length === 0 ? '-' : printable(keys.join(', '));
}

/** Width of the longest event name, so that lines written one by one (while following) still line up. */
const EVENT_NAME_WIDTH = Math.max(...(['session.regenerated', 'sessions.purged'] satisfies LifecycleEventName[]).map((name) => name.length));
/** `shortId`'s 12 characters and its ellipsis. */
const SHORT_ID_WIDTH = 13;

/** One event as a line: time, event, short session id, details (who, how many). */
export function formatEventLine(event: LifecycleEvent): string {
  const details = describeEvent(event);
  const line = `${formatTime(event.at)}  ${event.event.padEnd(EVENT_NAME_WIDTH)}  ${(event.sid ? shortId(event.sid) : '-').padEnd(SHORT_ID_WIDTH)}  ${details}`;
  return `${printable(line.trimEnd())}\n`;
}

/**
 * One JSON value on a line of its own. DEL and the C1 controls, which JSON.stringify leaves raw and some
 * terminals take for the start of an escape sequence (an owner may hold them), are written as \u escapes:
 * the same JSON, safe to print.
 */
export function jsonLine(value: unknown): string {
  const json = JSON.stringify(value).replace(/[\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${json}\n`;
}
