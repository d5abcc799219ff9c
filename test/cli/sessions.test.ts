/**
 * `sessionkeeper sessions …` on every store, as a child process on seeded
 * sessions: what list, count and show print (for people and as JSON), that
 * show prints key names and never values, and that end, purge-expired and
 * end-all remove what they say and reach the shared event log as the
 * dashboard's actions do (`by: admin`), where `events` reads them back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toApiSession } from '../../admin/api-routes.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { dataSizeBytes, type SessionStore } from '../../middleware/store.ts';
import { formatBytes } from '../../web/format.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { createNamespace, STORE_KINDS, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { testServerEnv } from '../helpers/test-settings.ts';
import { jsonLines, runCli } from './cli-process.ts';

/** What the seeded sessions hold: the values must never reach the CLI's output. */
const DATA = { cart: { card: 'VALUE-4111-1111-1111-1111' }, theme: 'VALUE-dark' };
const NO_SUCH_SESSION = 'sessionkeeper: no live session has that id: it has expired or was ended\n';

for (const kind of STORE_KINDS) {
  describe(`sessionkeeper sessions on the ${kind} store`, () => {
    let namespace: StoreNamespace;
    let store: SessionStore;
    let env: Record<string, string>;
    /** Live sessions, soonest to expire first (and least recently active first). */
    let live: string[];
    let expired: string[];

    before(async () => {
      namespace = await createNamespace(kind);
      store = namespace.open();
      await store.init();
      live = await seedSessions(store, { count: 3, data: DATA });
      expired = await seedSessions(store, { count: 2, expiresInMs: -60_000, data: DATA });
      env = testServerEnv(namespace);
    });
    after(async () => {
      await store.close();
      await namespace.remove();
    });

    test('list, count and show print the live sessions, for people and as JSON, and never a value', async () => {
      const before = await store.get(live[0]!, 0);
      const [table, json, count, show, showExpired] = await Promise.all([
        runCli(['sessions', 'list'], env),
        runCli(['sessions', 'list', '--json', '--sort', 'expiry', '--limit', '2'], env),
        runCli(['sessions', 'count', '--json'], env),
        runCli(['sessions', 'show', live[0]!], env),
        runCli(['sessions', 'show', expired[0]!], env),
      ]);
      for (const result of [table, json, count, show]) {
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stderr, '', 'nothing on stderr: the library logs only warnings');
        assert.ok(!result.stdout.includes('VALUE-'), `no value in:\n${result.stdout}`);
      }

      // Most recent activity first, every id whole (to paste into `sessions end`), columns aligned under their headings.
      const [header, ...rows] = table.stdout.trimEnd().split('\n');
      assert.match(header!, /^ID {43}CREATED +LAST SEEN +EXPIRES +SIZE +KEYS$/);
      assert.deepEqual(rows.map((row) => row.slice(0, 43)), [...live].reverse());
      for (const row of rows) {
        assert.match(row.slice(header!.indexOf('CREATED')), /^1h ago +\d+s ago +in (29m \d+s|30m( \ds)?) /);
        assert.equal(row.slice(header!.indexOf('SIZE')), `${formatBytes(dataSizeBytes(DATA)).padEnd('SIZE'.length)}  cart, theme`);
      }

      // The API's JSON, one session per line, in the order asked for.
      const listed = (await store.list({ limit: 2, sort: 'expiry', now: Date.now() })).sessions.map(toApiSession);
      assert.deepEqual(jsonLines(json.stdout), listed);
      assert.deepEqual(listed.map((session) => session.id), live.slice(0, 2));

      assert.equal(count.stdout, '{"live":3}\n');

      assert.match(show.stdout, new RegExp(`^id         ${live[0]}\ncreated    \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(1h ago\\)\n`));
      assert.match(show.stdout, /\nexpires {4}[^\n]+ UTC \(in 29m \d+s\)\nsize {7}\d+ bytes of JSON\nkeys {7}cart, theme\n$/);
      assert.deepEqual(await store.get(live[0]!, 0), before, 'showing a session does not roll it forward');

      assert.deepEqual([showExpired.status, showExpired.stdout, showExpired.stderr], [1, '', NO_SUCH_SESSION], 'an expired session is not shown');
    });

    test('end, purge-expired and end-all remove what they report, and each reaches the shared event log by admin', async () => {
      const [end, purge] = await Promise.all([runCli(['sessions', 'end', live[0]!], env), runCli(['sessions', 'purge-expired', '--json'], env)]);
      assert.deepEqual([end.status, end.stdout, end.stderr], [0, `ended session ${live[0]}\n`, '']);
      assert.deepEqual([purge.status, purge.stdout, purge.stderr], [0, '{"removed":2}\n', '']);
      assert.deepEqual(await idsStillStored(store, [live[0]!, ...expired]), []);

      const endAll = await runCli(['sessions', 'end-all', '--yes'], env);
      assert.deepEqual([endAll.status, endAll.stdout, endAll.stderr], [0, 'ended 2 sessions\n', '']);
      assert.deepEqual(await idsStillStored(store, [...live, ...expired]), []);

      const events = await runCli(['events', '--json', '--limit', '1000'], env);
      assert.equal(events.status, 0, events.stderr);
      const logged = jsonLines<LifecycleEvent>(events.stdout);
      // Oldest first in the log's own order (that of appending: two processes ran at once, so not always that of `at`).
      const inLog = (await store.openEventLog!(24 * 3_600_000).latest(1000)).events.reverse();
      assert.deepEqual(logged, inLog, 'the log, oldest first');
      assert.ok(logged.every((event) => event.store === kind));
      const key = ({ event, sid, by, count, scope }: Partial<LifecycleEvent>) => JSON.stringify({ event, sid, by, count, scope });
      assert.deepEqual(
        logged.map(key).sort(),
        [
          { event: 'session.destroyed', sid: live[0], by: 'admin' } as const,
          ...expired.map((sid) => ({ event: 'session.expired', sid }) as const),
          { event: 'sessions.purged', by: 'admin', count: 2, scope: 'expired' } as const,
          { event: 'sessions.purged', by: 'admin', count: 2, scope: 'all' } as const,
        ].map(key).sort(),
      );
    });
  });
}

describe('sessionkeeper sessions on many sessions (redis store)', () => {
  let namespace: StoreNamespace;
  let store: SessionStore;

  before(async () => {
    namespace = await createNamespace('redis');
    store = namespace.open();
    await store.init();
  });
  after(async () => {
    await store.close();
    await namespace.remove();
  });

  test('list pages through the store past a page of 1000, 50 by default; count, show --json, end of an unknown id, events for people', async () => {
    const env = testServerEnv(namespace);
    const ids = await seedSessions(store, { count: 1_005 });
    const [all, first, count, show, endUnknown] = await Promise.all([
      runCli(['sessions', 'list', '--json', '--limit', '1002'], env),
      runCli(['sessions', 'list'], env),
      runCli(['sessions', 'count'], env),
      runCli(['sessions', 'show', '--json', ids[0]!], env),
      runCli(['sessions', 'end', '--json', publicIdOf(newSessionId())], env),
    ]);
    const listed = jsonLines<{ id: string }>(all.stdout).map((session) => session.id);
    assert.equal(new Set(listed).size, 1_002, 'no session twice');
    assert.deepEqual(listed, [...ids].reverse().slice(0, 1_002));
    assert.equal(first.stdout.trimEnd().split('\n').length, 1 + 50);
    assert.equal(count.stdout, '1005\n');
    assert.deepEqual(jsonLines(show.stdout), [toApiSession((await store.list({ limit: 1, sort: 'expiry', now: Date.now() })).sessions[0]!)]);
    assert.deepEqual([endUnknown.status, endUnknown.stdout, endUnknown.stderr], [1, '', NO_SUCH_SESSION]);

    const endAll = await runCli(['sessions', 'end-all', '--yes', '--json'], env);
    assert.equal(endAll.stdout, '{"removed":1005}\n');
    // For people: a line per event, with its details.
    const events = await runCli(['events', '--limit', '1'], env);
    assert.equal(events.status, 0, events.stderr);
    assert.match(events.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC {2}sessions\.purged {6}- {14}every session: 1005 removed by admin\n$/);
  });

  test('purge-expired says how far a long purge has come, on stderr, while stdout keeps the result', async () => {
    await seedSessions(store, { count: 5_200, expiresInMs: -3_600_000 - 5_200_000 });
    const purge = await runCli(['sessions', 'purge-expired'], testServerEnv(namespace));
    assert.equal(purge.status, 0, purge.stderr);
    assert.equal(purge.stdout, 'removed 5200 expired sessions\n');
    // Not a terminal: a line every 5000 removed (on a terminal, one line rewritten in place).
    assert.equal(purge.stderr, 'removing expired sessions: 5000 so far…\n');
  });
});
