/**
 * The settings every test app and test server starts from, in one place:
 * cookie-signing keys, the operator's credentials and an hourly sweep (so
 * that only a test sweeps). They are written once, as environment variables,
 * and read the way the reference server reads its own: apps built in this
 * process through the settings readers, server processes from their
 * environment. A test changes a setting by overriding it in the part it
 * belongs to: the library's (`sessions`), the server's or the dashboard's.
 */
import { optionsFromEnv, type SessionkeeperOptions } from '../../middleware/config.ts';
import { adminOptionsFromEnv, type AdminSettings } from '../../admin/settings.ts';
import type { ServerSettings, SiteOptions } from '../../server/settings.ts';
import type { StoreNamespace } from './store-fixtures.ts';

/** Newest first; at least 32 characters each, as production requires. */
export const TEST_KEYS = ['test-key-newest-0123456789abcdefgh', 'test-key-older-0123456789abcdefghi'];
export const ADMIN_USER = 'operator';
export const ADMIN_PASSWORD = 'correct horse battery staple';

/** The defaults of every test app and server process, as environment variables. */
export const TEST_ENV: Readonly<Record<string, string>> = {
  SESSION_KEYS: TEST_KEYS.join(','),
  SESSION_SWEEP_INTERVAL: '1h',
  ADMIN_USER,
  ADMIN_PASSWORD,
};

/** What a test overrides, part by part, in the types each part takes. */
export interface SiteOverrides {
  sessions?: SessionkeeperOptions;
  server?: Partial<ServerSettings>;
  /** `password: undefined` for a dashboard without a password. */
  admin?: Partial<AdminSettings>;
}

/** The library's settings on `namespace`: the test defaults, then `overrides`. */
export function testSessionOptions(namespace: StoreNamespace, overrides: SessionkeeperOptions = {}): SessionkeeperOptions {
  return { ...optionsFromEnv({ ...TEST_ENV, ...namespace.env }), ...overrides };
}

/** The reference site's settings on `namespace`, as `createApp` takes them: the test defaults, then the overrides. */
export function testSiteOptions(namespace: StoreNamespace, overrides: SiteOverrides = {}): SiteOptions {
  return {
    sessions: testSessionOptions(namespace, overrides.sessions),
    server: { ...overrides.server },
    admin: { ...adminOptionsFromEnv(TEST_ENV), ...overrides.admin },
  };
}

/** The environment of a server process on `namespace`: the test defaults, then `env`. */
export function testServerEnv(namespace: StoreNamespace, env: Record<string, string> = {}): Record<string, string> {
  return { ...TEST_ENV, ...namespace.env, ...env };
}
