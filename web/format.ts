/**
 * How the site and the dashboard write sizes, times and durations: one
 * formatter per kind of value, absolute times in UTC so that every reader sees
 * the same clock. Durations come in two styles because the two audiences read
 * them differently: settings in words, times left and ago at a glance.
 */

const BYTE_UNITS = ['KiB', 'MiB', 'GiB'] as const;

/** `1048576` → `1 MiB`, `1536` → `1.5 KiB`, `12` → `12 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number(value.toFixed(1))} ${BYTE_UNITS[unit]}`;
}

/**
 * A time (milliseconds since the epoch, or ISO 8601) as `2025-01-31 14:05:09 UTC`:
 * the same for every reader, whatever the server's zone. Anything that is not
 * a time is shown as given.
 */
export function formatTime(at: number | string): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? String(at) : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Duration units, largest first, with the names each style uses. */
const DURATION_UNITS = [
  { long: 'day', short: 'd', ms: 86_400_000 },
  { long: 'hour', short: 'h', ms: 3_600_000 },
  { long: 'minute', short: 'm', ms: 60_000 },
  { long: 'second', short: 's', ms: 1000 },
] as const;

/**
 * A setting's duration in words, exactly: the largest unit that divides it
 * evenly. `1800000` → `30 minutes`, `90000` → `90 seconds`, `1500` → `1500 ms`.
 */
export function formatDurationLong(ms: number): string {
  for (const unit of DURATION_UNITS) {
    if (ms >= unit.ms && ms % unit.ms === 0) {
      const count = ms / unit.ms;
      return `${count} ${unit.long}${count === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}

/**
 * A duration at a glance, in its two largest whole units: `2d 3h`, `4m 10s`,
 * `12s`, `1h`; `0s` below a second or when negative.
 */
export function formatDurationShort(ms: number): string {
  const totalMs = Math.max(0, Math.floor(ms / 1000) * 1000);
  const largest = DURATION_UNITS.findIndex((unit) => totalMs >= unit.ms);
  if (largest < 0) return '0s';
  const unit = DURATION_UNITS[largest]!;
  const text = `${Math.floor(totalMs / unit.ms)}${unit.short}`;
  const next = DURATION_UNITS[largest + 1];
  if (!next) return text;
  const rest = Math.floor((totalMs % unit.ms) / next.ms);
  return rest > 0 ? `${text} ${rest}${next.short}` : text;
}
