/**
 * What only the dashboard writes: times left and ago beside the absolute
 * times, short ids and event details. Sizes, times and durations themselves
 * come from the shared formatters (`web/format.ts`), shared by both.
 */
import type { LifecycleEvent } from '../middleware/events.ts';
import { formatDurationShort } from '../web/format.ts';

/** `in 4m 10s`, or `expired` once the time has passed. */
export function formatTimeLeft(expiresAtMs: number, nowMs: number): string {
  return expiresAtMs > nowMs ? `in ${formatDurationShort(expiresAtMs - nowMs)}` : 'expired';
}

/** `3m 5s ago`, or `just now` within the second. */
export function formatTimeAgo(atMs: number, nowMs: number): string {
  return nowMs - atMs < 1000 ? 'just now' : `${formatDurationShort(nowMs - atMs)} ago`;
}

/** The first characters of a public id: enough to tell sessions apart and to grep the logs. */
export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

/** Characters of an owner shown where space is short (a table cell, a notice); the page holds the whole owner in a title. */
const SHORT_OWNER_LENGTH = 40;

/** An owner cut to SHORT_OWNER_LENGTH characters (whole code points, never half a surrogate pair) with an ellipsis. */
export function shortOwner(owner: string): string {
  const chars = Array.from(owner);
  return chars.length > SHORT_OWNER_LENGTH ? `${chars.slice(0, SHORT_OWNER_LENGTH).join('')}…` : owner;
}

/** The details of a lifecycle event in a few words: who ended it, how many a purge removed, whose session it is. */
export function describeEvent(event: LifecycleEvent): string {
  if (event.event === 'sessions.purged') {
    const what = event.scope === 'all' ? 'every session' : 'expired sessions';
    return `${what}: ${event.count ?? 0} removed${event.by ? ` by ${event.by}` : ''}`;
  }
  const details = [
    event.by && `by ${event.by}`,
    event.from && event.to && `from ${event.from} to ${event.to}`,
    event.previousSid && `was ${shortId(event.previousSid)}`,
    event.owner !== undefined && `owner ${shortOwner(event.owner)}`,
  ];
  return details.filter(Boolean).join(', ');
}
