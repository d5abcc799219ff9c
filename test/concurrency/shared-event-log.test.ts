/**
 * Three server processes behind one store tell the operator the same story:
 * every lifecycle event, whichever process recorded it, is in the shared log
 * exactly once, every process's feed and counters show the same, and the live
 * stream of a dashboard in one process carries what another process did
 * (README, "Lifecycle events"). On every store: the file store's processes
 * share one directory, as processes on one host do.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { publicIdOf } from '../../middleware/ids.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { createNamespace, STORE_KINDS, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { Visitor } from '../helpers/visitor.ts';
import { waitUntil } from '../helpers/wait.ts';

const VISITORS_PER_PROCESS = 4;
const IDLE_TTL_S = 3;

async function adminApi<T>(server: ServerProcess, path: string): Promise<T> {
  const res = await fetch(`${server.url}/admin/api/${path}`, { headers: { Authorization: basicAuth() } });
  assert.equal(res.status, 200, `GET /admin/api/${path} on ${server.url}`);
  return (await res.json()) as T;
}

const feedOf = async (server: ServerProcess) => (await adminApi<{ events: LifecycleEvent[] }>(server, 'events?limit=1000')).events;

/** What a process logged as lifecycle lines (its JSON log on stdout), as `event sid` pairs. */
function loggedEvents(server: ServerProcess): string[] {
  return server.logs.filter((line) => typeof line.event === 'string' && line.msg === line.event).map((line) => `${line.event} ${line.sid ?? ''}`);
}

/** A live event stream of one process's dashboard, opened with HTTP Basic. */
async function openStream(server: ServerProcess): Promise<{ received: () => string; close: () => void }> {
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${server.url}/admin/events/stream`, { headers: { Authorization: basicAuth() } }, resolve).on('error', reject);
  });
  assert.equal(response.statusCode, 200);
  response.setEncoding('utf8');
  let received = '';
  response.on('data', (chunk: string) => (received += chunk));
  response.on('error', () => {});
  return { received: () => received, close: () => response.destroy() };
}

for (const kind of STORE_KINDS) {
  describe(`the shared event log: three server processes on one ${kind} store`, () => {
    let namespace: StoreNamespace;
    let servers: ServerProcess[] = [];
    before(async () => {
      namespace = await createNamespace(kind);
      servers = await Promise.all([1, 2, 3].map(() => startServerProcess(namespace, { SESSION_TTL: `${IDLE_TTL_S}s`, SESSION_SWEEP_INTERVAL: '1s' })));
    });
    after(async () => {
      await Promise.all(servers.map((server) => server.stop()));
      await namespace?.remove();
    });

    test('each event is in the log once, whichever process recorded it; every feed, counter and live stream agrees', async () => {
      // A stream on the first process's dashboard, before anything happens elsewhere.
      const stream = await openStream(servers[0]!);
      try {
        // Visitors create sessions on every process; the first of each ends its own on another process.
        const visitors = servers.flatMap((server) => Array.from({ length: VISITORS_PER_PROCESS }, () => new Visitor(server.url)));
        await Promise.all(visitors.map(async (visitor, i) => assert.equal(await visitor.upload(`visitor ${i}\n`, 'v.txt'), 303)));
        const created = visitors.map((visitor) => publicIdOf(visitor.rawSessionId!));
        const leaving = visitors.filter((_, i) => i % VISITORS_PER_PROCESS === 0);
        for (const [i, visitor] of leaving.entries()) {
          const elsewhere = new Visitor(servers[(i + 1) % 3]!.url);
          elsewhere.cookies = new Map(visitor.cookies);
          assert.equal(await elsewhere.forget(), 303);
        }
        const destroyed = leaving.map((visitor) => publicIdOf(visitor.rawSessionId!));

        const expected = [...created.map((sid) => `session.created ${sid}`), ...destroyed.map((sid) => `session.destroyed ${sid}`)].sort();
        const ofVisitors = (events: LifecycleEvent[]) =>
          events.filter((e) => created.includes(e.sid ?? '') && e.event !== 'session.expired').map((e) => `${e.event} ${e.sid}`).sort();
        await waitUntil('every process\'s feed shows every event', async () => {
          for (const server of servers) if (ofVisitors(await feedOf(server)).length < expected.length) return false;
          return true;
        });
        // Sessions expire (and are swept) meanwhile: the feeds are compared without expiries, which the next test checks.
        const withoutExpiries = (feed: LifecycleEvent[]) => feed.filter((e) => e.event !== 'session.expired');
        const feeds = await Promise.all(servers.map(feedOf));
        for (const feed of feeds) assert.deepEqual(ofVisitors(feed), expected, 'each event exactly once, in every process\'s feed');
        assert.deepEqual(withoutExpiries(feeds[1]!), withoutExpiries(feeds[0]!), 'the same feed, in the same order, from every process');
        assert.deepEqual(withoutExpiries(feeds[2]!), withoutExpiries(feeds[0]!));
        // Each event was logged (stdout) by one process only, and what the processes logged is what the log holds.
        const logged = servers.flatMap(loggedEvents).filter((line) => created.some((sid) => line.endsWith(sid)) && !line.startsWith('session.expired')).sort();
        assert.deepEqual(logged, expected);
        const perProcess = servers.map((server) => loggedEvents(server).filter((line) => line.startsWith('session.created')).length);
        assert.deepEqual(perProcess, [VISITORS_PER_PROCESS, VISITORS_PER_PROCESS, VISITORS_PER_PROCESS], 'each process recorded its own visitors');

        const stats = await Promise.all(servers.map((server) => adminApi<Record<string, number>>(server, 'stats')));
        for (const answer of stats) {
          assert.equal(answer.createdLastHour, created.length, 'every process counts every creation');
          assert.equal(answer.destroyedLastHour, destroyed.length, 'every process counts every logout');
        }
        // The other totals move as sessions expire: asked at the same moment, every process gives the same.
        await waitUntil('identical totals from every process', async () => {
          const [first, ...others] = await Promise.all(servers.map((server) => adminApi<Record<string, number>>(server, 'stats')));
          return others.every((answer) => JSON.stringify(answer) === JSON.stringify(first));
        });

        // The first process's live stream carried what the two others did.
        const madeElsewhere = created.slice(VISITORS_PER_PROCESS);
        await waitUntil('the stream shows events of the other processes', () => madeElsewhere.every((sid) => stream.received().includes(sid)));
        for (const sid of madeElsewhere) assert.equal(stream.received().split(`"sid":"${sid}","store"`).length - 1, 1, `${sid} created, streamed once`);
      } finally {
        stream.close();
      }
    });

    test('with three sweepers, each expiry is in the log once, and every process counts it the same', async () => {
      const visitors = servers.map((server) => new Visitor(server.url));
      await Promise.all(visitors.map(async (visitor) => assert.equal(await visitor.upload('soon gone\n', 'v.txt'), 303)));
      const sids = visitors.map((visitor) => publicIdOf(visitor.rawSessionId!));
      const expiriesIn = (feed: LifecycleEvent[]) => feed.filter((e) => e.event === 'session.expired' && sids.includes(e.sid!)).map((e) => e.sid!).sort();
      await waitUntil('the three sessions expired and were swept', async () => expiriesIn(await feedOf(servers[0]!)).length === sids.length, 15_000, 200);
      // More sweeps of every process: none may add an expiry again.
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      for (const server of servers) assert.deepEqual(expiriesIn(await feedOf(server)), [...sids].sort(), 'each expiry exactly once');
      const stats = await Promise.all(servers.map((server) => adminApi<{ expiredLastHour: number }>(server, 'stats')));
      assert.ok(stats[0]!.expiredLastHour >= sids.length);
      for (const answer of stats) assert.equal(answer.expiredLastHour, stats[0]!.expiredLastHour);
    });
  });
}
