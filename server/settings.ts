/**
 * The reference server's own settings (where it listens, the largest upload,
 * whether a proxy's `X-Forwarded-*` headers are trusted) and everything it
 * reads from its environment: these, the library's settings and the
 * dashboard's. One settings-table mechanism for all three, with the same
 * one-line errors.
 */
import { loadConfig, type SessionkeeperConfig, type SessionkeeperOptions } from '../middleware/config.ts';
import { checkSettings, ConfigError, type Env, integer, readSettings, type SettingsTable, withDefaults } from '../middleware/settings.ts';
import { LISTEN_DEFAULTS, LISTEN_SETTINGS, type ListenSettings } from '../web/listen-settings.ts';
import { adminOptionsFromEnv, type AdminSettings } from '../admin/index.ts';
import { resolveAdminSettings } from '../admin/settings.ts';

/** What only the reference server reads, beside where it listens (shared with the CLI's dashboard: `web/listen-settings.ts`). */
export interface ServerSettings extends ListenSettings {
  /** `UPLOAD_MAX_BYTES`: largest uploaded file the site accepts. */
  uploadMaxBytes: number;
}

const SERVER_SETTINGS: SettingsTable<ServerSettings> = {
  ...LISTEN_SETTINGS,
  uploadMaxBytes: { env: 'UPLOAD_MAX_BYTES', ...integer(1, 1024 * 1024 * 1024) },
};

const DEFAULTS: ServerSettings = { ...LISTEN_DEFAULTS, uploadMaxBytes: 1_048_576 };

/** Applies the defaults and checks every value; throws ConfigError for the first one not allowed. */
export function resolveServerSettings(options: Partial<ServerSettings> = {}): ServerSettings {
  const settings = withDefaults(DEFAULTS, options);
  checkSettings(SERVER_SETTINGS, settings);
  return settings;
}

/** Paths the reference server answers itself, before the dashboard: a dashboard under one of them would be hidden. */
const SERVER_PATHS = ['/static', '/healthz'];

/**
 * The dashboard's settings with their defaults, checked before anything is opened, and its prefix clear of
 * the server's own paths; throws ConfigError otherwise.
 */
export function resolveSiteAdminSettings(options: Partial<AdminSettings> = {}): AdminSettings {
  const settings = resolveAdminSettings(options);
  const clash = SERVER_PATHS.find((path) => settings.path === path || settings.path.startsWith(`${path}/`));
  if (clash) {
    throw new ConfigError('ADMIN_PATH', `ADMIN_PATH=${JSON.stringify(settings.path)} is not valid: the reference server answers ${clash} itself; choose another prefix, such as /admin`);
  }
  return settings;
}

/** The settings of each part, as `createApp` takes them. */
export interface SiteOptions {
  /** The library's settings (`SESSION_*`, `REDIS_*`, `DATABASE_URL`, `LOG_*`). */
  sessions: SessionkeeperConfig | SessionkeeperOptions;
  /** The reference server's (`PORT`, `HOST`, `UPLOAD_MAX_BYTES`, `TRUST_PROXY`). */
  server?: Partial<ServerSettings>;
  /** The dashboard's (`ADMIN_PATH`, `ADMIN_USER`, `ADMIN_PASSWORD`). */
  admin?: Partial<AdminSettings>;
}

/** Reads and checks every setting of the reference server's environment; throws ConfigError for the first one not allowed. */
export function loadSiteOptions(env: Env = process.env, isTty?: boolean): SiteOptions & { server: ServerSettings; admin: AdminSettings } {
  return {
    sessions: loadConfig(env, isTty),
    server: resolveServerSettings(readSettings(SERVER_SETTINGS, env)),
    admin: resolveSiteAdminSettings(adminOptionsFromEnv(env)),
  };
}
