/**
 * The reference app (createApp) in this process, listening on a free port of
 * 127.0.0.1, with every log line captured: for tests that need real
 * connections (timeouts, many clients at once) but not a process of its own.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { resolveConfig, type SessionkeeperOptions } from '../../middleware/config.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { createApp, type SiteApp } from '../../server/app.ts';
import type { LogLine } from './server-process.ts';
import { TEST_DATABASE_URL } from './store-fixtures.ts';

/** At least 32 characters each, as production requires. */
export const SITE_KEYS = ['fault-test-key-newest-0123456789', 'fault-test-key-older-0123456789a'];
export const SITE_ADMIN_PASSWORD = 'fault test operator password';

export interface ListeningSite extends SiteApp {
  server: Server;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every log line so far, parsed. */
  logs(): LogLine[];
  /** Stops listening (dropping open connections) and closes the app. */
  close(): Promise<void>;
}

/**
 * Builds the app on `store` with these settings (signing keys, an admin
 * password and an hourly sweep unless overridden) and listens.
 */
export async function startListeningSite(
  store: SessionStore,
  options: SessionkeeperOptions = {},
  storeTimeoutMs?: number,
): Promise<ListeningSite> {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
  const config = resolveConfig(
    {
      store: store.kind,
      // Required by the settings for the postgres kind; the store passed in is the one used.
      databaseUrl: TEST_DATABASE_URL,
      keys: SITE_KEYS,
      adminPassword: SITE_ADMIN_PASSWORD,
      sweepIntervalMs: 3_600_000,
      logLevel: 'info',
      ...options,
    },
    false,
  );
  // A store left open (a Redis client reconnecting forever) would keep the test process from ever exiting.
  const site = await createApp(config, { logger, store, storeTimeoutMs }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const server = site.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    ...site,
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    logs: () => lines.map((line) => JSON.parse(line) as LogLine),
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
      await site.close();
    },
  };
}

/** `Authorization` header for the admin API of a ListeningSite. */
export function adminAuthorization(): string {
  return `Basic ${Buffer.from(`admin:${SITE_ADMIN_PASSWORD}`).toString('base64')}`;
}
