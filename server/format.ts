/** Sizes and durations as a visitor reads them. */

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

const DURATION_UNITS = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
] as const;

/** `1800000` → `30 minutes`, `90000` → `90 seconds`: the largest unit that divides evenly. */
export function formatDuration(ms: number): string {
  for (const [name, unitMs] of DURATION_UNITS) {
    if (ms >= unitMs && ms % unitMs === 0) {
      const count = ms / unitMs;
      return `${count} ${name}${count === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}

/** An ISO 8601 time as `2025-01-31 14:05 UTC`: the same for every visitor, whatever the server's zone. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
