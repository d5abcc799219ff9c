/**
 * How the dashboard writes times, durations, sizes and ids: absolute times in
 * UTC so every operator reads the same clock, with a relative hint beside them.
 */
import type { LifecycleEvent } from '../middleware/events.ts';

/** `2025-11-27 08:53:10 UTC`. */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A duration in its two largest units: `2d 3h`, `4m 10s`, `12s`, `1h`. */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  const units: [string, number][] = [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]];
  const largest = units.findIndex(([, seconds]) => totalSeconds >= seconds);
  if (largest < 0) return '0s';
  const [unit, seconds] = units[largest]!;
  const text = `${Math.floor(totalSeconds / seconds)}${unit}`;
  const next = units[largest + 1];
  if (!next) return text;
  const rest = Math.floor((totalSeconds % seconds) / next[1]);
  return rest > 0 ? `${text} ${rest}${next[0]}` : text;
}

/** `in 4m 10s`, or `expired` once the time has passed. */
export function formatTimeLeft(expiresAtMs: number, nowMs: number): string {
  return expiresAtMs > nowMs ? `in ${formatDuration(expiresAtMs - nowMs)}` : 'expired';
}

/** `3m 5s ago`, or `just now` within the second. */
export function formatTimeAgo(atMs: number, nowMs: number): string {
  return nowMs - atMs < 1000 ? 'just now' : `${formatDuration(nowMs - atMs)} ago`;
}

/** `512 B`, `1.5 KiB`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The first characters of a public id: enough to tell sessions apart and to grep the logs. */
export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

/** The details of a lifecycle event in a few words: who ended it, how many a purge removed. */
export function describeEvent(event: LifecycleEvent): string {
  if (event.event === 'sessions.purged') {
    const what = event.scope === 'all' ? 'every session' : 'expired sessions';
    return `${what}: ${event.count ?? 0} removed${event.by ? ` by ${event.by}` : ''}`;
  }
  if (event.by) return `by ${event.by}`;
  if (event.previousSid) return `was ${shortId(event.previousSid)}`;
  return '';
}
