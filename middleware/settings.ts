/**
 * The one mechanism behind every settings table: the library's, the
 * dashboard's and the reference server's. A table maps each option of a typed
 * options object to its environment variable, a parser for the variable's
 * text and a check for a typed value. Reading an environment and checking an
 * options object both fail the same way: a ConfigError whose message is one
 * line naming the variable, the value (hidden for secrets) and what is allowed.
 */
import { parseDurationMs } from './duration.ts';

/** A setting had a value outside what it allows. */
export class ConfigError extends Error {
  /**
   * @param setting the environment variable of the setting.
   * @param message one line: the variable, the value and what is allowed.
   */
  constructor(readonly setting: string, message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Environment variables, as `process.env` holds them. */
export type Env = Record<string, string | undefined>;

/** How one setting is read from its environment variable and checked. */
export interface Setting<T> {
  /** The environment variable. */
  env: string;
  /** Text for the error message: what values are allowed. */
  allowed: string;
  /** Converts the variable's text; undefined means the text is not allowed. */
  parse: (text: string) => T | undefined;
  /** Checks a typed value (from options, or parsed from the environment). */
  check: (value: unknown) => boolean;
  /** Shown as `(hidden)` instead of the value in errors (passwords, URLs with credentials, keys). */
  secret?: boolean;
}

/** One Setting per option of an options object. */
export type SettingsTable<Options> = { [K in keyof Options]-?: Setting<Exclude<Options[K], undefined>> };

/** Reads the options that are set in an environment; an empty variable counts as unset. */
export function readSettings<Options>(table: SettingsTable<Options>, env: Env): Partial<Options> {
  const options: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(table) as [string, Setting<unknown>][]) {
    const raw = env[setting.env];
    if (raw === undefined || raw === '') continue;
    const value = setting.parse(raw);
    if (value === undefined || !setting.check(value)) throw invalidSetting(setting, raw);
    options[key] = value;
  }
  return options as Partial<Options>;
}

/**
 * Throws a ConfigError for an option the table does not have (a plain-JavaScript caller's typo, or a
 * setting that belongs to another part), then for the first option whose value its setting does not
 * allow; undefined means unset.
 */
export function checkSettings<Options>(table: SettingsTable<Options>, options: Partial<Options>): void {
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(table, key)) {
      throw new ConfigError(key, `${JSON.stringify(key)} is not an option here: expected one of ${Object.keys(table).join(', ')}`);
    }
  }
  for (const [key, setting] of Object.entries(table) as [string, Setting<unknown>][]) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined && !setting.check(value)) throw invalidSetting(setting, value, key);
  }
}

/** `defaults` overridden by every option that is set (not undefined). */
export function withDefaults<Options extends object>(defaults: Options, options: Partial<Options>): Options {
  const merged: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  return merged as Options;
}

function invalidSetting(setting: Setting<unknown>, value: unknown, option?: string): ConfigError {
  const shown = setting.secret ? '(hidden)' : JSON.stringify(value);
  const name = option ? `${setting.env} (option ${option})` : setting.env;
  return new ConfigError(setting.env, `${name}=${shown} is not valid: expected ${setting.allowed}`);
}

// The kinds of setting every table is built from.

/** One of a few words. */
export const oneOf = <T extends string>(...values: T[]) => ({
  allowed: values.join(', '),
  parse: (text: string) => ((values as string[]).includes(text) ? (text as T) : undefined),
  check: (value: unknown) => typeof value === 'string' && (values as string[]).includes(value),
});

/** A whole number within bounds. */
export const integer = (min: number, max: number) => ({
  allowed: `a whole number from ${min} to ${max}`,
  parse: (text: string) => (/^\d{1,15}$/.test(text) ? Number(text) : undefined),
  check: (value: unknown) => Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max,
});

const DAY_MS = 86_400_000;

/** A duration in ms, written `90s`, `30m`, `12h`, `7d` or as seconds. */
export const duration = (minMs: number, allowZero: boolean, maxDays = 365) => ({
  allowed: `a duration like 90s, 30m, 12h, 7d or a number of seconds${allowZero ? ' (0 = none)' : ''}, at least ${minMs / 1000}s and at most ${maxDays}d`,
  parse: parseDurationMs,
  check: (value: unknown) =>
    Number.isSafeInteger(value) && ((allowZero && value === 0) || ((value as number) >= minMs && (value as number) <= maxDays * DAY_MS)),
});

/** Text matching a pattern. */
export const text = (pattern: RegExp, allowed: string) => ({
  allowed,
  parse: (value: string) => (pattern.test(value) ? value : undefined),
  check: (value: unknown) => typeof value === 'string' && pattern.test(value),
});

/** A URL of one of the protocols; secret, since it may carry a password. */
export const url = (protocols: string[]) => ({
  allowed: `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  parse: (value: string) => (isUrl(value, protocols) ? value : undefined),
  check: (value: unknown) => typeof value === 'string' && isUrl(value, protocols),
  secret: true,
});

function isUrl(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** `true`/`1` or `false`/`0`. */
export const boolean = {
  allowed: 'true or false',
  parse: (value: string) => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : undefined),
  check: (value: unknown) => typeof value === 'boolean',
};
