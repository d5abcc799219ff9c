/**
 * The reference app (createApp, so the real wiring: security headers, error
 * pages, static files, then the dashboard before the visitor sessions) on a
 * real store in a fresh namespace, with helpers to sign in to the dashboard
 * and to put sessions straight into the store.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { resolveConfig, type SessionkeeperOptions } from '../../middleware/config.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { createLogger } from '../../middleware/logger.ts';
import type { SessionRecord, SessionStore, StoreKind } from '../../middleware/store.ts';
import { createApp, type SiteApp } from '../../server/app.ts';
import { createNamespace, type StoreNamespace } from './store-fixtures.ts';

export const ADMIN_USER = 'operator';
export const ADMIN_PASSWORD = 'correct horse battery staple';
/** The app's cookie-signing keys, newest first. */
export const TEST_KEYS = ['admin-test-key-newest-0123456789', 'admin-test-key-older-0123456789'];

export interface AdminTestApp extends SiteApp {
  namespace: StoreNamespace;
  /** The store itself, unguarded: where tests put and check sessions. */
  store: SessionStore;
  /** A supertest agent: keeps the cookies the dashboard sets. */
  agent(): request.Agent;
  close(): Promise<void>;
}

/**
 * Builds the app on a fresh namespace of `kind` with ADMIN_USER/ADMIN_PASSWORD
 * set (override with `options`, e.g. `adminPassword: undefined`). The sweeper
 * interval is an hour, so only the dashboard's "purge expired" sweeps. Pass
 * `dependencies.store` for a store that cannot answer.
 */
export async function createAdminApp(
  kind: StoreKind,
  options: SessionkeeperOptions = {},
  dependencies: { store?: SessionStore; storeTimeoutMs?: number } = {},
): Promise<AdminTestApp> {
  const namespace = await createNamespace(kind);
  const store = dependencies.store ?? namespace.open();
  const { storeTimeoutMs } = dependencies;
  const config = resolveConfig(
    { store: kind, keys: TEST_KEYS, adminUser: ADMIN_USER, adminPassword: ADMIN_PASSWORD, sweepIntervalMs: 3_600_000, logLevel: 'silent', ...namespace.settings, ...options },
    false,
  );
  const site = await createApp(config, { store, logger: createLogger({ level: 'silent', format: 'json' }), storeTimeoutMs });
  return {
    ...site,
    namespace,
    store,
    agent: () => request.agent(site.app.callback()),
    async close() {
      await site.close();
      await namespace.remove();
    },
  };
}

/** The value of the hidden CSRF field in a page (the first form's). */
export function csrfTokenIn(html: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(token, 'the page has a CSRF token field');
  return token;
}

/**
 * Signs an agent in through the login form and returns the CSRF token of its
 * admin session (from the sessions page).
 */
export async function signIn(agent: request.Agent, password = ADMIN_PASSWORD): Promise<string> {
  const loginPage = await agent.get('/admin/login').expect(200);
  await agent
    .post('/admin/login')
    .type('form')
    .send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password })
    .expect(303)
    .expect('Location', '/admin');
  const dashboard = await agent.get('/admin').expect(200);
  return csrfTokenIn(dashboard.text);
}

/** An `Authorization: Basic` header value. */
export function basicAuth(user = ADMIN_USER, password = ADMIN_PASSWORD): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** What a seeded session looks like; times are relative to now. */
export interface SeedOptions {
  /** Sessions to create. */
  count: number;
  /** Expiry of the first session from now (ms); negative for expired sessions. Each next one expires 1 s later. */
  expiresInMs?: number;
  /** How many sessions `store.create` gets at once. */
  batchSize?: number;
  data?: Record<string, unknown>;
}

/**
 * Creates sessions directly in the store (as the middleware would, keyed by
 * the public id of a fresh raw id) with distinct activity and expiry times.
 * Returns their public ids in creation order.
 */
export async function seedSessions(store: SessionStore, options: SeedOptions): Promise<string[]> {
  const { count, expiresInMs = 30 * 60_000, batchSize = 200, data = { upload: { fileName: 'notes.txt' }, theme: 'dark' } } = options;
  const nowMs = Date.now();
  const ids = Array.from({ length: count }, () => publicIdOf(newSessionId()));
  for (let start = 0; start < count; start += batchSize) {
    await Promise.all(
      ids.slice(start, start + batchSize).map((id, offset) => {
        const index = start + offset;
        const expiresAt = nowMs + expiresInMs + index * 1000;
        const record: SessionRecord = { data, createdAt: nowMs - (count + 3600) * 1000, lastSeenAt: Math.min(nowMs, expiresAt) - (count - index) * 1000, expiresAt };
        return store.create(id, record);
      }),
    );
  }
  return ids;
}

/** The ids among `ids` the store still holds, live or expired (`get` at time 0 sees every record). */
export async function idsStillStored(store: SessionStore, ids: string[]): Promise<string[]> {
  const found = await Promise.all(ids.map(async (id) => ((await store.get(id, 0)) ? id : undefined)));
  return found.filter((id): id is string => id !== undefined);
}

/** Every cookie a response set, by name. */
export function cookiesSet(res: request.Response): string[] {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []);
}
