/** The issue's targets as checks over measured values, printed as one table. */
import { formatFixed, markdownTable } from './markdown.ts';

export interface TargetCheck {
  target: string;
  scenario: string;
  measured: number;
  goal: number;
  unit: '×' | 'ms' | 's' | 'MB';
  /** `at-least` (ratios) or `at-most` (times, growth); default at-least. */
  direction?: 'at-least' | 'at-most';
}

export function isMet(check: TargetCheck): boolean {
  if (!Number.isFinite(check.measured)) return false;
  return check.direction === 'at-most' ? check.measured <= check.goal : check.measured >= check.goal;
}

function withUnit(value: number, unit: TargetCheck['unit']): string {
  const decimals = unit === 'ms' || unit === 'MB' ? 1 : 2;
  return `${formatFixed(value, decimals)}${unit === '×' ? '×' : ` ${unit}`}`;
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  const rows = checks.map((check) => [
    check.target,
    check.scenario,
    withUnit(check.measured, check.unit),
    `${check.direction === 'at-most' ? '≤' : '≥'} ${withUnit(check.goal, check.unit)}`,
    isMet(check) ? 'met' : '**not met**',
  ]);
  return markdownTable(['target', 'scenario', 'measured', 'goal', 'result'], rows, 2);
}
