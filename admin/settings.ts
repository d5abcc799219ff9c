/**
 * The dashboard's own settings: where it is mounted and who may use it. A Koa
 * app passes them to `createAdmin` as options; the reference server (and any
 * app that wants to) reads them from `ADMIN_PATH`, `ADMIN_USER` and
 * `ADMIN_PASSWORD`. Checked by the same settings-table mechanism as the
 * library's, with the same one-line errors.
 */
import { checkSettings, ConfigError, type Env, integer, readSettings, type SettingsTable, text, withDefaults } from '../middleware/settings.ts';

/** The dashboard's settings, as `createAdmin` takes them. */
export interface AdminSettings {
  /** `ADMIN_PATH`: the path prefix every dashboard route lives under (default `/admin`). */
  path: string;
  /** `ADMIN_USER`: the operator's user name (default `admin`). */
  user: string;
  /** `ADMIN_PASSWORD`: without one, every dashboard route answers 503 saying how to set one. */
  password: string | undefined;
}

/** A path of 1 to 8 segments of URL-safe characters, none of them `.` or `..`; never `/` alone, which would take over the app. */
const PATH_PATTERN = /^(\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9._~-]{1,64}){1,8}$/;

const ADMIN_SETTINGS: SettingsTable<AdminSettings> = {
  path: { env: 'ADMIN_PATH', ...text(PATH_PATTERN, 'a path prefix like /admin or /ops/sessions (letters, digits, . _ ~ -; no trailing slash)') },
  user: { env: 'ADMIN_USER', ...text(/^[^:\s]{1,128}$/, 'a user name of 1 to 128 characters without spaces or colons') },
  password: { env: 'ADMIN_PASSWORD', ...text(/^.{8,1024}$/, 'a password of at least 8 characters (at most 1024, on one line)'), secret: true },
};

const DEFAULTS: AdminSettings = { path: '/admin', user: 'admin', password: undefined };

/** Reads the dashboard's settings that are set in an environment; an empty variable counts as unset. */
export function adminOptionsFromEnv(env: Env = process.env): Partial<AdminSettings> {
  return readSettings(ADMIN_SETTINGS, env);
}

/** The live event streams' intervals, in ms: options only, with no variable. */
export interface StreamTimings {
  /** Interval of the keep-alive comment, at which each stream also checks its sign-in again. */
  streamHeartbeatMs?: number;
  /** How often the streams read the shared event log for new events. */
  streamPollMs?: number;
}

/** What each interval may be: a poll more often than every 10 ms would keep the store busy for nothing. */
const STREAM_TIMING_LIMITS: Record<keyof StreamTimings, ReturnType<typeof integer>> = {
  streamHeartbeatMs: integer(10, 3_600_000),
  streamPollMs: integer(10, 60_000),
};

/** Throws ConfigError, one line naming the option, for an interval that is not a whole number of ms in its range. */
export function checkStreamTimings(options: StreamTimings): void {
  for (const [option, kind] of Object.entries(STREAM_TIMING_LIMITS) as [keyof StreamTimings, ReturnType<typeof integer>][]) {
    const value = options[option];
    if (value !== undefined && !kind.check(value)) {
      throw new ConfigError(option, `option ${option}=${typeof value === 'string' ? JSON.stringify(value) : String(value)} is not valid: expected ${kind.allowed} (ms)`);
    }
  }
}

/** Applies the defaults and checks every value; throws ConfigError for the first one not allowed. */
export function resolveAdminSettings(options: Partial<AdminSettings>): AdminSettings {
  const settings = withDefaults(DEFAULTS, { path: options.path, user: options.user, password: options.password });
  checkSettings(ADMIN_SETTINGS, settings);
  return settings;
}
