const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^(\d{1,9})([smhd]?)$/;

/**
 * Parses `90s`, `30m`, `12h`, `7d` or a bare number of seconds into milliseconds.
 * Returns undefined for anything else, so the caller can name the setting in its error.
 */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] || 's']!;
}
