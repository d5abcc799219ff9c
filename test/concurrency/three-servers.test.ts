/**
 * Three server processes behind one Redis or PostgreSQL store, as behind a
 * load balancer: every process sees every session, and each expiry is logged
 * exactly once between them (README, "Session lifetime").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { publicIdOf } from '../../middleware/ids.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { Visitor } from '../helpers/visitor.ts';
import { waitUntil } from '../helpers/wait.ts';

const VISITORS = 30;
const IDLE_TTL_S = 3;

async function listedIds(server: ServerProcess): Promise<string[]> {
  const res = await fetch(`${server.url}/admin/api/sessions?limit=1000`, {
    headers: { Authorization: basicAuth() },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { sessions: { id: string }[] }).sessions.map((session) => session.id).sort();
}

for (const kind of ['redis', 'postgres'] as const) {
  describe(`three server processes on one ${kind} store`, () => {
    let store: StoreNamespace;
    let servers: ServerProcess[] = [];
    before(async () => {
      store = await createNamespace(kind);
      servers = await Promise.all([1, 2, 3].map(() => startServerProcess(store, { SESSION_TTL: `${IDLE_TTL_S}s`, SESSION_SWEEP_INTERVAL: '1s' })));
    });
    after(async () => {
      await Promise.all(servers.map((server) => server.stop()));
      await store?.remove();
    });

    test('each sees every session, and each expiry is logged exactly once between them', async (t) => {
      // Each visitor uploads to one process and reads from the two others.
      const visitors = Array.from({ length: VISITORS }, (_, i) => new Visitor(servers[i % 3]!.url));
      await Promise.all(visitors.map(async (visitor, i) => assert.equal(await visitor.upload(`visitor ${i}\n`, 'v.txt'), 303)));
      const expectedIds = visitors.map((visitor) => publicIdOf(visitor.rawSessionId!)).sort();
      await Promise.all(
        visitors.flatMap((visitor, i) =>
          [1, 2].map(async (offset) => {
            const reader = new Visitor(servers[(i + offset) % 3]!.url);
            reader.cookies = new Map(visitor.cookies);
            assert.deepEqual((await reader.read()).lines, [`visitor ${i}`], `visitor ${i} on process ${(i + offset) % 3}`);
          }),
        ),
      );
      for (const server of servers) assert.deepEqual(await listedIds(server), expectedIds, 'every process lists every session');

      const expiries = () => servers.flatMap((server) => server.logs.filter((line) => line.msg === 'session.expired').map((line) => line.sid as string));
      await waitUntil('every session expired and swept', () => new Set(expiries()).size === VISITORS, 15_000, 100);
      // Two more sweeps of every process: none may log an expiry again.
      await sleep(2_100);
      assert.deepEqual(expiries().sort(), expectedIds, 'each expiry logged exactly once between the three');
      const perProcess = servers.map((server) => server.logs.filter((line) => line.msg === 'session.expired').length);
      t.diagnostic(`expiries logged per process: ${perProcess.join(', ')}`);
      for (const server of servers) assert.deepEqual(await listedIds(server), []);
    });
  });
}
