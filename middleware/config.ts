/**
 * The library's settings (store, connections, lifetimes, cookie, keys, sweep,
 * cap, logs), read from the environment or from a typed options object,
 * defaulted and validated once, in one place. An invalid value throws a
 * ConfigError whose message is one line naming the variable, the value and
 * what is allowed. The dashboard and the reference server keep their own
 * settings in tables of the same kind (`admin/settings.ts`, `server/settings.ts`).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import {
  boolean, checkSettings, ConfigError, duration, type Env, integer, oneOf, readSettings, type SettingsTable, text, url, withDefaults,
} from './settings.ts';
import type { StoreKind } from './store.ts';

export { ConfigError } from './settings.ts';

/**
 * `SESSION_COOKIE`: `persistent` cookies carry an expiry, `browser` cookies end
 * with the browser. The server-side expiry is the same for both.
 */
export type CookieType = 'persistent' | 'browser';
/** `LOG_FORMAT`: one JSON object per line, or a readable line for a terminal. */
export type LogFormat = 'json' | 'pretty';
/** `LOG_LEVEL`: pino's levels, most severe first; `silent` logs nothing. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Where one store's sessions are: its kind and the settings of its connection (the settings' own, for the
 * current store; with the `PREVIOUS_…` ones over them, for the previous store of a backend switch).
 */
export interface StoreConnection {
  /** `SESSION_STORE`: which backend holds sessions. */
  store: StoreKind;
  /** `SESSION_FILE_DIR`: directory of the file store, created if missing. */
  fileDir: string;
  /** `SESSION_PG_TABLE`: table of the postgres store, optionally `schema.table`. */
  pgTable: string;
  /** `REDIS_URL`. */
  redisUrl: string;
  /** `SESSION_REDIS_PREFIX`: start of every Redis key the store uses, so several apps can share one Redis. */
  redisPrefix: string;
  /** `REDIS_CLUSTER_NODES`: seed nodes (`host:port`) of a Redis Cluster; when set, used instead of `redisUrl` (whose user and password still apply). */
  redisClusterNodes?: string[];
  /** `REDIS_SENTINELS`: Sentinels (`host:port`) that name the primary; when set, used instead of `redisUrl` (whose user and password still apply). */
  redisSentinels?: string[];
  /** `REDIS_SENTINEL_NAME`: the name of the primary the Sentinels watch; required with `redisSentinels`. */
  redisSentinelName?: string;
  /** `DATABASE_URL`: required when `store` is `postgres`. */
  databaseUrl: string | undefined;
}

/** The validated settings. Durations in ms, sizes in bytes. */
export interface SessionkeeperConfig extends StoreConnection {
  /** `SESSION_TTL`: idle lifetime. */
  idleTtlMs: number;
  /** `SESSION_ABSOLUTE_TTL`: hard limit from creation; 0 = none. */
  absoluteTtlMs: number;
  /** `SESSION_COOKIE`: whether the cookie carries an expiry. The server-side TTL applies to both. */
  cookieType: CookieType;
  /** `SESSION_COOKIE_NAME`. */
  cookieName: string;
  /** `SESSION_KEYS`: cookie-signing keys, newest first. */
  keys: string[];
  /** True when `keys` were generated because none were configured outside production. */
  keysGenerated: boolean;
  /**
   * `SESSION_TOUCH_AFTER`: a read rolls the session forward (a store write, the cookie sent again) only when
   * it was last rolled at least this long ago; 0 = on every request. Default: 1 % of `idleTtlMs`, at most 60 s.
   */
  touchAfterMs: number;
  /** `SESSION_SWEEP_INTERVAL`. */
  sweepIntervalMs: number;
  /** `SESSION_MAX_COUNT`: cap on live sessions; 0 = no cap. */
  maxCount: number;
  /** `SESSION_MAX_PER_OWNER`: most live sessions one owner may hold (the least recently used goes first); 0 = no cap. */
  maxPerOwner: number;
  /** `SESSION_TRACK_DEVICE`: keep each new session's shortened user agent and client address (personal data). */
  trackDevice: boolean;
  /** `SESSION_EVENTS_RETENTION`: how long the shared event log keeps lifecycle events. */
  eventsRetentionMs: number;
  /** `SESSION_MAX_BYTES`: largest session stored, as its data's UTF-8 JSON; a larger one is refused with SessionTooLargeError. */
  maxSessionBytes: number;
  /** `LOG_LEVEL`. */
  logLevel: LogLevel;
  /** `LOG_FORMAT`. */
  logFormat: LogFormat;
  /** `NODE_ENV=production`: keys required, cookies `Secure`. */
  production: boolean;
  /**
   * `SESSION_STORE_PREVIOUS`: the store sessions are moving away from (the README's "Switching backends");
   * undefined: no switch under way. Its connection is the current store's, but for the `previous…` options.
   */
  previousStore?: StoreKind;
  /** `PREVIOUS_SESSION_FILE_DIR`: the previous store's directory, when it is not `fileDir`. */
  previousFileDir?: string;
  /** `PREVIOUS_SESSION_PG_TABLE`. */
  previousPgTable?: string;
  /** `PREVIOUS_REDIS_URL`. */
  previousRedisUrl?: string;
  /** `PREVIOUS_SESSION_REDIS_PREFIX`. */
  previousRedisPrefix?: string;
  /** `PREVIOUS_DATABASE_URL`. */
  previousDatabaseUrl?: string;
}

/** What a library user may pass: any subset of the settings, in their validated types. */
export type SessionkeeperOptions = Partial<Omit<SessionkeeperConfig, 'keysGenerated'>>;

const DAY_MS = 86_400_000;
/** The default rolling granularity: this share of SESSION_TTL… */
const TOUCH_AFTER_SHARE_OF_TTL = 0.01;
/** …but never more than a minute, so "last seen" stays fresh on long-lived sessions. */
const TOUCH_AFTER_DEFAULT_MAX_MS = 60_000;

/** Identifiers PostgreSQL accepts unquoted, optionally schema-qualified; no quoting games. */
export const PG_TABLE_PATTERN = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;
const COOKIE_NAME_PATTERN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const KEY_LIST_PATTERN = /^[^,\s]{16,}(,[^,\s]{16,})*$/;
/** Production keys sign real users' cookies: 32 random base64 characters carry 192 bits, out of reach of guessing. */
const PRODUCTION_KEY_MIN_LENGTH = 32;
const MAKE_A_KEY = 'openssl rand -base64 32';
/** Cookie name prefixes that browsers accept only on Secure cookies (matched without regard to case, as newer browsers do). */
const COOKIE_PREFIX_NEEDING_SECURE = /^__(host|secure)-/i;

/** The table of settings: environment variable, parser and check for each option. */
const STORE_KIND = oneOf<StoreKind>('file', 'redis', 'postgres');
const FILE_DIR = text(/^[^\0]{1,4096}$/, 'a directory path');
const PG_TABLE = text(PG_TABLE_PATTERN, 'a lower-case identifier (letters, digits, _; at most 63), optionally schema.table');
const REDIS_URL = url(['redis:', 'rediss:']);
// No braces: Redis Cluster reads the first {…} of a key as its hash tag, which the store sets itself.
const REDIS_PREFIX = text(/^[\x21-\x7a|~]{1,100}$/, 'a key prefix of 1 to 100 printable characters without spaces, { or }');
/** host:port, the host a name, an IPv4 address or an IPv6 address in brackets. */
const REDIS_ADDRESS = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):\d{1,5}$/;
const REDIS_ADDRESSES = {
  allowed: 'comma-separated host:port addresses (an IPv6 host in brackets), at most 100',
  parse: (value: string) => {
    const addresses = value.split(',').map((address) => address.trim());
    return addresses.length <= 100 && addresses.every(isRedisAddress) ? addresses : undefined;
  },
  check: (value: unknown) => Array.isArray(value) && value.length > 0 && value.length <= 100 && value.every(isRedisAddress),
};
const DATABASE_URL = url(['postgres:', 'postgresql:']);

const SETTINGS: SettingsTable<SessionkeeperOptions> = {
  store: { env: 'SESSION_STORE', ...STORE_KIND },
  fileDir: { env: 'SESSION_FILE_DIR', ...FILE_DIR },
  pgTable: { env: 'SESSION_PG_TABLE', ...PG_TABLE },
  redisUrl: { env: 'REDIS_URL', ...REDIS_URL },
  redisPrefix: { env: 'SESSION_REDIS_PREFIX', ...REDIS_PREFIX },
  redisClusterNodes: { env: 'REDIS_CLUSTER_NODES', ...REDIS_ADDRESSES },
  redisSentinels: { env: 'REDIS_SENTINELS', ...REDIS_ADDRESSES },
  redisSentinelName: { env: 'REDIS_SENTINEL_NAME', ...text(/^[\x21-\x7e]{1,100}$/, 'the name of a primary as the Sentinels know it: 1 to 100 printable characters without spaces') },
  databaseUrl: { env: 'DATABASE_URL', ...DATABASE_URL },
  previousStore: { env: 'SESSION_STORE_PREVIOUS', ...STORE_KIND },
  previousFileDir: { env: 'PREVIOUS_SESSION_FILE_DIR', ...FILE_DIR },
  previousPgTable: { env: 'PREVIOUS_SESSION_PG_TABLE', ...PG_TABLE },
  previousRedisUrl: { env: 'PREVIOUS_REDIS_URL', ...REDIS_URL },
  previousRedisPrefix: { env: 'PREVIOUS_SESSION_REDIS_PREFIX', ...REDIS_PREFIX },
  previousDatabaseUrl: { env: 'PREVIOUS_DATABASE_URL', ...DATABASE_URL },
  idleTtlMs: { env: 'SESSION_TTL', ...duration(1000, false) },
  absoluteTtlMs: { env: 'SESSION_ABSOLUTE_TTL', ...duration(1000, true) },
  // Its upper bound depends on SESSION_TTL, checked in resolveConfig; the default too.
  touchAfterMs: { env: 'SESSION_TOUCH_AFTER', ...duration(1000, true) },
  cookieType: { env: 'SESSION_COOKIE', ...oneOf<CookieType>('persistent', 'browser') },
  cookieName: { env: 'SESSION_COOKIE_NAME', ...text(COOKIE_NAME_PATTERN, 'a cookie name of 1 to 64 token characters') },
  keys: {
    env: 'SESSION_KEYS',
    allowed: 'comma-separated keys of at least 16 characters each, no spaces',
    parse: (value) => (KEY_LIST_PATTERN.test(value) ? value.split(',') : undefined),
    check: (value) => Array.isArray(value) && value.length > 0 && value.every((k) => typeof k === 'string' && /^[^,\s]{16,}$/.test(k)),
    secret: true,
  },
  // Node timers overflow past 2^31-1 ms (~24.8 days) and would then fire every millisecond.
  sweepIntervalMs: { env: 'SESSION_SWEEP_INTERVAL', ...duration(1000, false, 24) },
  maxCount: { env: 'SESSION_MAX_COUNT', ...integer(0, 1_000_000_000) },
  maxPerOwner: { env: 'SESSION_MAX_PER_OWNER', ...integer(0, 1_000_000) },
  trackDevice: { env: 'SESSION_TRACK_DEVICE', ...boolean },
  eventsRetentionMs: { env: 'SESSION_EVENTS_RETENTION', ...duration(60_000, false) },
  maxSessionBytes: { env: 'SESSION_MAX_BYTES', ...integer(1024, 128 * 1024 * 1024) },
  logLevel: { env: 'LOG_LEVEL', ...oneOf<LogLevel>('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent') },
  logFormat: { env: 'LOG_FORMAT', ...oneOf<LogFormat>('json', 'pretty') },
  production: { env: 'NODE_ENV', ...boolean, allowed: 'any value (production means production)', parse: (value) => value === 'production' },
};

/** The defaults, in one place (`logFormat` depends on whether stdout is a terminal). */
export function defaultOptions(isTty = Boolean(process.stdout.isTTY)): Required<Omit<SessionkeeperOptions, 'databaseUrl' | 'keys' | 'touchAfterMs' | 'redisClusterNodes' | 'redisSentinels' | 'redisSentinelName' | PreviousOption>> {
  return {
    store: 'file',
    fileDir: './var/sessions',
    pgTable: 'sessionkeeper_sessions',
    redisUrl: 'redis://127.0.0.1:6379',
    redisPrefix: 'sessionkeeper:',
    idleTtlMs: 30 * 60_000,
    absoluteTtlMs: DAY_MS,
    cookieType: 'persistent',
    cookieName: 'sid',
    sweepIntervalMs: 60_000,
    maxCount: 0,
    maxPerOwner: 0,
    trackDevice: false,
    maxSessionBytes: 2 * 1024 * 1024,
    eventsRetentionMs: DAY_MS,
    logLevel: 'info',
    logFormat: isTty ? 'pretty' : 'json',
    production: false,
  };
}

/** Reads the library's options that are set in an environment; an empty variable counts as unset. */
export function optionsFromEnv(env: Env = process.env): SessionkeeperOptions {
  return readSettings(SETTINGS, env);
}

/**
 * Applies defaults to options and validates the result. Throws ConfigError
 * for the first invalid or missing setting.
 */
export function resolveConfig(options: SessionkeeperOptions = {}, isTty?: boolean): SessionkeeperConfig {
  const merged = withDefaults<SessionkeeperOptions>(defaultOptions(isTty), options);
  checkSettings(SETTINGS, merged);
  const config = merged as SessionkeeperConfig;
  if (config.store === 'postgres' && !config.databaseUrl) {
    throw new ConfigError('DATABASE_URL', 'DATABASE_URL is required when SESSION_STORE=postgres: set it to a URL like postgres://user@127.0.0.1:5432/db');
  }
  checkRedisTopology(config);
  checkPrevious(config);
  if (config.absoluteTtlMs !== 0 && config.absoluteTtlMs < config.idleTtlMs) {
    throw new ConfigError(
      'SESSION_ABSOLUTE_TTL',
      `SESSION_ABSOLUTE_TTL=${config.absoluteTtlMs / 1000}s is shorter than SESSION_TTL=${config.idleTtlMs / 1000}s: it must be 0 (none) or at least the idle TTL`,
    );
  }
  config.touchAfterMs ??= defaultTouchAfterMs(config.idleTtlMs);
  if (config.touchAfterMs * 2 > config.idleTtlMs) {
    throw new ConfigError(
      'SESSION_TOUCH_AFTER',
      `SESSION_TOUCH_AFTER=${config.touchAfterMs / 1000}s is more than half of SESSION_TTL=${config.idleTtlMs / 1000}s: sessions in use would expire between two refreshes; use 0 (every request) or at most ${Math.floor(config.idleTtlMs / 2000)}s`,
    );
  }
  // Browsers drop a prefixed cookie that is not Secure, and only production cookies are: no session would ever stick.
  if (!config.production && COOKIE_PREFIX_NEEDING_SECURE.test(config.cookieName)) {
    throw new ConfigError(
      'SESSION_COOKIE_NAME',
      `SESSION_COOKIE_NAME=${JSON.stringify(config.cookieName)} needs NODE_ENV=production: browsers refuse __Host- and __Secure- cookies without Secure, which only production sets; use a name without the prefix, such as sid`,
    );
  }
  if (!config.keys) {
    if (config.production) {
      throw new ConfigError(
        'SESSION_KEYS',
        `SESSION_KEYS is required when NODE_ENV=production: set comma-separated random keys of at least ${PRODUCTION_KEY_MIN_LENGTH} characters, newest first (make one with ${MAKE_A_KEY})`,
      );
    }
    config.keys = [randomBytes(32).toString('base64url')];
    config.keysGenerated = true;
  } else {
    // Every key verifies cookies: one short key anywhere in the list is enough to forge them.
    if (config.production && config.keys.some((key) => key.length < PRODUCTION_KEY_MIN_LENGTH)) {
      throw new ConfigError(
        'SESSION_KEYS',
        `SESSION_KEYS=(hidden) is not valid with NODE_ENV=production: every key needs at least ${PRODUCTION_KEY_MIN_LENGTH} characters; make each with ${MAKE_A_KEY}`,
      );
    }
    config.keysGenerated = false;
  }
  return config;
}

/** The options of the previous store during a backend switch: none has a default of its own. */
/** One way to reach Redis at a time; Sentinels need the name of the primary they watch, and the name needs Sentinels. */
function checkRedisTopology(config: SessionkeeperConfig): void {
  if (config.redisClusterNodes && config.redisSentinels) {
    throw new ConfigError('REDIS_SENTINELS', 'REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: a Redis Cluster has no Sentinels; set one of them');
  }
  if (config.redisSentinels && !config.redisSentinelName) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_NAME is required with REDIS_SENTINELS: set it to the name the Sentinels monitor the primary under (sentinel monitor <name> …)');
  }
  if (config.redisSentinelName && !config.redisSentinels) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_NAME is set but REDIS_SENTINELS is not: set REDIS_SENTINELS to the Sentinels\' host:port addresses, or remove REDIS_SENTINEL_NAME');
  }
}

function isRedisAddress(value: unknown): boolean {
  return typeof value === 'string' && REDIS_ADDRESS.test(value) && Number(value.slice(value.lastIndexOf(':') + 1)) <= 65_535;
}

type PreviousOption = 'previousStore' | 'previousFileDir' | 'previousPgTable' | 'previousRedisUrl' | 'previousRedisPrefix' | 'previousDatabaseUrl';

/** The `PREVIOUS_…` connection settings, each overriding its counterpart of the current store. */
const PREVIOUS_CONNECTION = {
  previousFileDir: 'fileDir',
  previousPgTable: 'pgTable',
  previousRedisUrl: 'redisUrl',
  previousRedisPrefix: 'redisPrefix',
  previousDatabaseUrl: 'databaseUrl',
} as const satisfies Partial<Record<PreviousOption, keyof StoreConnection>>;

/** The kind of store each `PREVIOUS_…` connection setting is for. */
const PREVIOUS_OPTION_KIND = {
  previousFileDir: 'file',
  previousPgTable: 'postgres',
  previousRedisUrl: 'redis',
  previousRedisPrefix: 'redis',
  previousDatabaseUrl: 'postgres',
} as const satisfies Record<keyof typeof PREVIOUS_CONNECTION, StoreKind>;

/** The current store's connection. */
export function currentConnectionOf(config: SessionkeeperConfig): StoreConnection {
  const { store, fileDir, pgTable, redisUrl, redisPrefix, redisClusterNodes, redisSentinels, redisSentinelName, databaseUrl } = config;
  const connection: StoreConnection = { store, fileDir, pgTable, redisUrl, redisPrefix, databaseUrl };
  if (redisClusterNodes) connection.redisClusterNodes = redisClusterNodes;
  if (redisSentinels) Object.assign(connection, { redisSentinels, redisSentinelName });
  return connection;
}

/** The previous store's connection during a backend switch: the current one's settings, but for the `PREVIOUS_…` ones set. */
export function previousConnectionOf(config: SessionkeeperConfig): StoreConnection | undefined {
  if (!config.previousStore) return undefined;
  const connection: StoreConnection = { ...currentConnectionOf(config), store: config.previousStore };
  for (const [option, setting] of Object.entries(PREVIOUS_CONNECTION) as [keyof typeof PREVIOUS_CONNECTION, keyof StoreConnection][]) {
    const value = config[option];
    if (value !== undefined) (connection as unknown as Record<string, string>)[setting] = value;
  }
  // PREVIOUS_REDIS_URL names a single Redis: the sessions are moving from it to the cluster or Sentinel primary.
  if (config.previousRedisUrl !== undefined) {
    delete connection.redisClusterNodes;
    delete connection.redisSentinels;
    delete connection.redisSentinelName;
  }
  return connection;
}

/**
 * A backend switch needs a previous store that can be opened and that is not the current one; a
 * `PREVIOUS_…` setting without SESSION_STORE_PREVIOUS is a mistake (it would be ignored), refused too.
 */
function checkPrevious(config: SessionkeeperConfig): void {
  if (!config.previousStore) {
    const stray = (Object.keys(PREVIOUS_CONNECTION) as (keyof typeof PREVIOUS_CONNECTION)[]).find((option) => config[option] !== undefined);
    if (stray) {
      const env = SETTINGS[stray].env;
      throw new ConfigError(env, `${env} is set but SESSION_STORE_PREVIOUS is not: set SESSION_STORE_PREVIOUS to the store sessions are moving away from, or remove ${env}`);
    }
    return;
  }
  for (const [option, kind] of Object.entries(PREVIOUS_OPTION_KIND) as [keyof typeof PREVIOUS_CONNECTION, StoreKind][]) {
    if (config[option] === undefined || kind === config.previousStore) continue;
    const env = SETTINGS[option].env;
    throw new ConfigError(env, `${env} is set but SESSION_STORE_PREVIOUS=${config.previousStore} does not use it: it is for a previous ${kind} store; remove it or correct SESSION_STORE_PREVIOUS`);
  }
  const previous = previousConnectionOf(config)!;
  if (previous.store === 'postgres' && !previous.databaseUrl) {
    throw new ConfigError('PREVIOUS_DATABASE_URL', 'PREVIOUS_DATABASE_URL (or DATABASE_URL) is required when SESSION_STORE_PREVIOUS=postgres: set it to the database the sessions are in now');
  }
  if (sameSessions(previous, currentConnectionOf(config))) {
    const hint = { file: 'PREVIOUS_SESSION_FILE_DIR', redis: 'PREVIOUS_REDIS_URL or PREVIOUS_SESSION_REDIS_PREFIX', postgres: 'PREVIOUS_DATABASE_URL or PREVIOUS_SESSION_PG_TABLE' }[previous.store];
    throw new ConfigError(
      'SESSION_STORE_PREVIOUS',
      `SESSION_STORE_PREVIOUS=${previous.store} names the same sessions as SESSION_STORE: to move between two ${previous.store} stores, set ${hint} to where the sessions are now`,
    );
  }
}

/** Whether two connections reach the same sessions: the same directory, Redis database and prefix, or database and table. */
function sameSessions(a: StoreConnection, b: StoreConnection): boolean {
  if (a.store !== b.store) return false;
  switch (a.store) {
    case 'file':
      return resolve(a.fileDir) === resolve(b.fileDir);
    case 'redis':
      return a.redisPrefix === b.redisPrefix && redisServerOf(a) === redisServerOf(b);
    case 'postgres':
      return qualifiedTable(a.pgTable) === qualifiedTable(b.pgTable) && serverOf(a.databaseUrl!, '5432', '') === serverOf(b.databaseUrl!, '5432', '');
  }
}

/** The Redis a connection reaches: its cluster's seed nodes, its Sentinels, or its URL's server and database. */
function redisServerOf(connection: StoreConnection): string {
  if (connection.redisClusterNodes) return `cluster ${[...connection.redisClusterNodes].sort().join(',')}`;
  if (connection.redisSentinels) return `sentinel ${connection.redisSentinelName} ${[...connection.redisSentinels].sort().join(',')}`;
  return serverOf(connection.redisUrl, '6379', '/0');
}

/** `host:port/path` of a URL, defaults filled in, without its user or password. */
function serverOf(value: string, defaultPort: string, defaultPath: string): string {
  const { hostname, port, pathname } = new URL(value);
  return `${hostname || 'localhost'}:${port || defaultPort}${pathname && pathname !== '/' ? pathname : defaultPath}`;
}

function qualifiedTable(table: string): string {
  return table.includes('.') ? table : `public.${table}`;
}

/** The rolling granularity when none is set: 1 % of the idle TTL, at most a minute (whole ms). */
export function defaultTouchAfterMs(idleTtlMs: number): number {
  return Math.min(Math.floor(idleTtlMs * TOUCH_AFTER_SHARE_OF_TTL), TOUCH_AFTER_DEFAULT_MAX_MS);
}

/** Reads, defaults and validates the settings of an environment. */
export function loadConfig(env: Env = process.env, isTty?: boolean): SessionkeeperConfig {
  return resolveConfig(optionsFromEnv(env), isTty);
}

/** A URL with any password replaced, for logs and the dashboard. */
export function redactUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
