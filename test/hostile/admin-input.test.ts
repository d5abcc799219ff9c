/**
 * Property-based hostile input against the dashboard and its JSON API on
 * every store: ids, cursors, limits and sorts made of SQL, Redis and path
 * syntax, random credentials and forged admin cookies. Never a 5xx, and the
 * store is untouched: no session removed that was not named, nothing written
 * outside the namespace, and, for PostgreSQL, no statement other than the
 * store's own fixed ones: every value reaches SQL as a parameter.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EVENT_LOG_DIR } from '../../middleware/event-log/file-event-log.ts';
import fc from 'fast-check';
import pg from 'pg';
import { createClient } from 'redis';
import request from 'supertest';
import type { SessionStore } from '../../middleware/store.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { basicAuth, csrfTokenIn } from '../helpers/dashboard-client.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { createNamespace, STORE_KINDS, TEST_DATABASE_URL, TEST_REDIS_URL, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { ADMIN_PASSWORD, ADMIN_USER, TEST_KEYS } from '../helpers/test-settings.ts';
import { assertNothingLeaks, headerValue, hostileText, urlText } from './hostile-values.ts';

/** The file store's tombstones of ended sessions (file-tombstones.ts): a directory of empty files named by public id. */
const TOMBSTONES = '.ended';

const NUM_RUNS = 80;
/** The address the wrong credentials come from, through the second app's trusted proxy. */
const GUESSER = '198.51.100.77';
const SEEDED = 30;

/** Every statement any connection of the pool sends, whitespace-normalised. */
class RecordingClient extends pg.Client {
  static readonly statements = new Set<string>();
  override query(...args: unknown[]): never {
    const [first] = args as [string | { text?: string }];
    const text = typeof first === 'string' ? first : first?.text;
    if (text) RecordingClient.statements.add(text.replace(/\s+/g, ' ').trim());
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}

/** For PostgreSQL, the namespace's store on a pool whose every statement is recorded; the others as the settings make them. */
function storeFor(namespace: StoreNamespace, pool: pg.Pool | undefined): SessionStore | undefined {
  return namespace.kind === 'postgres' ? new PostgresStore({ pool: pool!, table: namespace.settings.pgTable }) : undefined;
}

function signedCookie(name: string, value: string): string {
  return `${name}=${value}; ${name}.sig=${createHmac('sha1', TEST_KEYS[0]!).update(`${name}=${value}`).digest('base64url')}`;
}

/** A base64url cursor around hostile text, so it passes the first shape check and meets the decoder. */
const cursor = fc.oneof(urlText, hostileText.map((text) => Buffer.from(`${Date.now()}:${text}`).toString('base64url')), hostileText.map((text) => Buffer.from(text).toString('base64url')));

const apiCall = fc.oneof(
  fc.record({ method: fc.constant('DELETE'), path: fc.oneof(urlText, fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)).map((id) => `/admin/api/sessions/${id}`) }),
  fc.record({
    method: fc.constant('GET'),
    path: fc.tuple(fc.option(urlText), fc.option(urlText), fc.option(cursor)).map(([limit, sort, c]) => {
      const params = [limit !== null && `limit=${limit}`, sort !== null && `sort=${sort}`, c !== null && `cursor=${c}`].filter(Boolean);
      return `/admin/api/sessions?${params.join('&')}`;
    }),
  }),
  fc.record({ method: fc.constant('GET'), path: urlText.map((limit) => `/admin/api/events?limit=${limit}`) }),
  fc.record({ method: fc.constantFrom('GET', 'POST'), path: fc.constantFrom('/admin/api/stats', '/admin/api/purge-expired') }),
);

for (const kind of STORE_KINDS) {
  describe(`hostile input against the dashboard (${kind} store)`, () => {
    let namespace: StoreNamespace;
    let pool: pg.Pool | undefined;
    let site: ListeningTestApp;
    /**
     * A second app on the same store, for wrong credentials. Failures are counted in the store, per address and
     * per account, so it guards another account and its guesses come from another (proxied) address: they lock
     * out neither the operator's address nor the operator's account.
     */
    let guessed: ListeningTestApp;
    let seeded: string[];
    let port: number;

    before(async () => {
      namespace = await createNamespace(kind);
      if (kind === 'postgres') pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, Client: RecordingClient });
      site = await createTestApp(kind, { namespace, store: storeFor(namespace, pool), listen: true });
      guessed = await createTestApp(kind, { namespace, store: storeFor(namespace, pool), server: { trustProxy: true }, admin: { user: 'guessed-account' }, listen: true });
      port = site.port;
      seeded = await seedSessions(site.sessions.store, { count: SEEDED });
      // Every statement the store makes in ordinary use, before anything hostile.
      const api = request(site.app.callback());
      for (const sort of ['activity', 'expiry']) {
        const first = await api.get(`/admin/api/sessions?limit=5&sort=${sort}`).set('Authorization', basicAuth()).expect(200);
        await api.get(`/admin/api/sessions?limit=5&sort=${sort}&cursor=${first.body.nextCursor}`).set('Authorization', basicAuth()).expect(200);
      }
      await api.get('/admin/api/stats').set('Authorization', basicAuth()).expect(200);
      await api.post('/admin/api/purge-expired').set('Authorization', basicAuth()).expect(200);
      await api.delete(`/admin/api/sessions/${'A'.repeat(43)}`).set('Authorization', basicAuth()).expect(404);
      // The dashboard's own records in ordinary use: a failed check (a counter), a sign-in and a sign-out.
      await request(guessed.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', GUESSER).set('Authorization', 'Basic d3Jvbmc6Z3Vlc3M=').expect(401);
      const operator = request.agent(site.app.callback());
      const loginPage = await operator.get('/admin/login').expect(200);
      await operator.post('/admin/login').type('form').send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: ADMIN_PASSWORD }).expect(303);
      await operator.post('/admin/logout').type('form').send({ csrf: csrfTokenIn((await operator.get('/admin').expect(200)).text) }).expect(303);
      assert.equal((await idsStillStored(site.sessions.store, seeded)).length, SEEDED);
    });
    after(async () => {
      await site?.close();
      await guessed?.close();
      await pool?.end();
      await namespace?.remove();
    });

    /** The Redis prefix of the namespace: every key the app writes starts with it. */
    const redisPrefix = () => namespace.settings.redisPrefix!;

    /** The store still holds every seeded session and nothing beyond its namespace's own shapes. */
    async function assertStoreIntact(statementsBefore: Set<string>): Promise<void> {
      if (kind === 'postgres') {
        const added = [...RecordingClient.statements].filter((statement) => !statementsBefore.has(statement));
        assert.deepEqual(added, [], 'no statement beyond the store\'s fixed ones: values travel as parameters');
      }
      assert.deepEqual((await idsStillStored(site.sessions.store, seeded)).length, SEEDED, 'every seeded session is still there');
      if (kind === 'redis') {
        const client = createClient({ url: TEST_REDIS_URL });
        await client.connect();
        const keys: string[] = [];
        for await (const batch of client.scanIterator({ MATCH: `${redisPrefix()}*`, COUNT: 1000 })) keys.push(...batch);
        await client.close();
        // The dashboard's sign-ins and failure counters live in their own namespace, of the same shapes.
        // The shared event log sits beside them: a stream and per-minute tallies.
        // Each shard's keys carry its hash tag {<shard>.<n>}; the tallies carry the stream's name as theirs.
        const events = `_events(:\\{${escapeRegExp(redisPrefix())}_events\\}:\\d+)?`;
        const ownKey = new RegExp(`^(admin:)?\\{\\d+\\.\\d+\\}(s:[A-Za-z0-9_-]{43}|exp|act)$|^${events}$`);
        for (const key of keys) assert.match(key.slice(redisPrefix().length), ownKey, 'only the store\'s own keys');
        const sessionKeys = keys.filter((key) => /^\{[^}]+\}s:/.test(key.slice(redisPrefix().length)));
        assert.equal(sessionKeys.length, SEEDED, 'one hash per session');
      }
      if (kind === 'file') {
        const names = (await readdir(namespace.settings.fileDir!)).filter((name) => name !== 'admin' && name !== EVENT_LOG_DIR && name !== TOMBSTONES);
        assert.ok(names.every((name) => /^[A-Za-z0-9_-]{43}\.json$/.test(name)), 'only session files');
        const tombstones = await readdir(join(namespace.settings.fileDir!, TOMBSTONES)).catch(() => []);
        assert.ok(tombstones.every((name) => /^[A-Za-z0-9_-]{43}$/.test(name)), 'tombstones of ended sessions are named by public id');
        const logFiles = await readdir(join(namespace.settings.fileDir!, EVENT_LOG_DIR)).catch(() => []);
        assert.ok(logFiles.every((name) => /^(seg-\d+\.jsonl|tally-\d+)$/.test(name)), 'only the event log\'s segments and tallies');
        assert.equal(names.length, SEEDED);
        const namespaced = (await readdir(join(namespace.settings.fileDir!, 'admin'))).filter((name) => name !== TOMBSTONES);
        assert.ok(namespaced.every((name) => /^[A-Za-z0-9_-]{43}\.json$/.test(name)), 'only sign-ins and counters in the namespace');
      }
    }

    test('authenticated API calls with hostile ids, cursors, limits and sorts: 200, 400, 404 or 405, never 5xx', async () => {
      const statementsBefore = new Set(RecordingClient.statements);
      await fc.assert(
        fc.asyncProperty(apiCall, async ({ method, path }) => {
          const res = await rawRequest(port, { method, target: path, headers: [['Host', `127.0.0.1:${port}`], ['Authorization', basicAuth()]] });
          assertNothingLeaks(res, `${method} ${path}`);
          assert.ok([200, 400, 404, 405].includes(res.status), `${method} ${path}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
          assert.match(res.headers['content-type'] ?? '', /application\/json/);
        }),
        { numRuns: NUM_RUNS },
      );
      await assertStoreIntact(statementsBefore);
    });

    test('wrong credentials and forged admin cookies: 401, 403, 429 or a redirect to the login page, never 5xx, nothing changed', async () => {
      const guessedPort = Number(new URL(guessed.url).port);
      const statementsBefore = new Set(RecordingClient.statements);
      const attempt = fc.record({
        method: fc.constantFrom('GET', 'POST', 'DELETE'),
        path: fc.constantFrom('/admin', '/admin/api/sessions', '/admin/api/purge-all', '/admin/api/purge-expired', '/admin/end-all', '/admin/purge-expired', `/admin/api/sessions/${seeded[0]}`, '/admin/events/stream'),
        authorization: fc.option(fc.oneof(headerValue, headerValue.map((v) => `Basic ${v}`), fc.tuple(hostileText, hostileText).map(([u, p]) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`)), { nil: undefined }),
        cookie: fc.option(fc.oneof(headerValue.map((v) => `sk_admin=${v}`), headerValue.filter((v) => v.length > 0 && !/[;,\s]/.test(v)).map((v) => signedCookie('sk_admin', v))), { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(attempt, async ({ method, path, authorization, cookie }) => {
          const headers: [string, string][] = [['Host', `127.0.0.1:${guessedPort}`], ['X-Forwarded-For', GUESSER]];
          if (authorization !== undefined) headers.push(['Authorization', authorization]);
          if (cookie !== undefined) headers.push(['Cookie', cookie]);
          const res = await rawRequest(guessedPort, { method, target: path, headers });
          assertNothingLeaks(res, `${method} ${path}`);
          // 400 comes from Node itself, for header bytes HTTP does not allow.
          assert.ok([303, 400, 401, 403, 405, 429].includes(res.status), `${method} ${path}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
        }),
        { numRuns: NUM_RUNS },
      );
      await assertStoreIntact(statementsBefore);
    });

    test('a signed-in operator\'s forms with hostile ids, fields and list queries: 303, 400, 403 or 404, never 5xx', async () => {
      const statementsBefore = new Set(RecordingClient.statements);
      const agent = request.agent(site.app.callback());
      const loginPage = await agent.get('/admin/login').expect(200);
      await agent.post('/admin/login').type('form').send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: ADMIN_PASSWORD }).expect(303);
      const csrf = csrfTokenIn((await agent.get('/admin').expect(200)).text);
      const form = fc.record({
        action: fc.constantFrom('end', 'purge', 'page'),
        id: urlText,
        csrf: fc.oneof(fc.constant(csrf), hostileText),
        extra: fc.dictionary(hostileText, hostileText, { maxKeys: 3 }),
        query: fc.tuple(urlText, urlText, cursor).map(([limit, sort, c]) => `?limit=${limit}&sort=${sort}&cursor=${c}`),
      });
      await fc.assert(
        fc.asyncProperty(form, async ({ action, id, csrf: token, extra, query }) => {
          const res =
            action === 'page'
              ? await agent.get(`/admin${query}`)
              : await agent.post(action === 'end' ? `/admin/sessions/${id}/end` : '/admin/purge-expired').type('form').send({ ...extra, csrf: token });
          assert.ok([200, 303, 400, 403, 404, 405].includes(res.status), `${action}: ${res.status} ${res.text.slice(0, 200)}`);
          assert.doesNotMatch(res.text, /\n\s+at\s+\S/, 'no stack trace');
        }),
        { numRuns: NUM_RUNS },
      );
      await assertStoreIntact(statementsBefore);
    });
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
