/**
 * Where an HTTP server of this package listens and whether it trusts a
 * reverse proxy: the settings the reference server and the CLI's standalone
 * dashboard share (`PORT`, `HOST`, `TRUST_PROXY`), on the same settings-table
 * mechanism as every other setting.
 */
import { boolean, checkSettings, ConfigError, type Env, integer, readSettings, type SettingsTable, text, withDefaults } from '../middleware/settings.ts';

/** Where to listen, and whether `X-Forwarded-*` is trusted. */
export interface ListenSettings {
  /** `PORT`; 0 picks a free port. */
  port: number;
  /** `HOST`. */
  host: string;
  /** `TRUST_PROXY`: trust `X-Forwarded-*` from one reverse proxy (Koa's `app.proxy`). */
  trustProxy: boolean;
}

export const LISTEN_SETTINGS: SettingsTable<ListenSettings> = {
  port: { env: 'PORT', ...integer(0, 65535) },
  host: { env: 'HOST', ...text(/^[A-Za-z0-9.:_-]{1,255}$/, 'a host name or IP address') },
  trustProxy: { env: 'TRUST_PROXY', ...boolean },
};

export const LISTEN_DEFAULTS: ListenSettings = { port: 3000, host: '127.0.0.1', trustProxy: false };

/** Reads the listen settings of an environment, defaults applied; throws ConfigError for the first one not allowed. */
export function loadListenSettings(env: Env = process.env): ListenSettings {
  const settings = withDefaults(LISTEN_DEFAULTS, readSettings(LISTEN_SETTINGS, env));
  checkSettings(LISTEN_SETTINGS, settings);
  return settings;
}

/**
 * Throws ConfigError when a server of this package could not work as configured: it speaks plain HTTP
 * only, and production cookies are Secure, so without a TLS proxy in front every sign-in or session would fail.
 */
export function assertServableOverHttp(production: boolean, trustProxy: boolean): void {
  if (production && !trustProxy) {
    throw new ConfigError(
      'TRUST_PROXY',
      'NODE_ENV=production makes the cookies Secure, which this server cannot send over its own plain HTTP: serve it behind a TLS proxy and set TRUST_PROXY=true',
    );
  }
}

/** `http://host:port`, with an IPv6 host in brackets. */
export function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
