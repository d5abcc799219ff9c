/**
 * Redis restarts empty under a running app: a private redis-server (the
 * shared one serves other tests) killed with SIGKILL and started again on the
 * same port, so its data and its script cache are gone, as after a real crash.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { Visitor } from '../helpers/visitor.ts';
import { waitUntil } from '../helpers/wait.ts';

describe('Redis restarting empty', () => {
  let redis: PrivateRedis;
  let site: ListeningTestApp;
  before(async () => {
    redis = await startPrivateRedis();
    site = await createTestApp('redis', { sessions: { redisUrl: redis.url, sweepIntervalMs: 1_000 }, listen: true });
  });
  after(async () => {
    await site?.close();
    await redis?.stop();
  });

  const api = async (path: string, method = 'GET') => {
    const res = await fetch(`${site.url}/admin/api${path}`, { method, headers: { Authorization: basicAuth() } });
    return { status: res.status, body: await res.json() };
  };

  test('visitors get fresh sessions, nothing crashes, and the sweeper and the listing carry on', async () => {
    const visitors = [new Visitor(site.url), new Visitor(site.url)];
    for (const visitor of visitors) assert.equal(await visitor.upload('before the restart\n', 'b.txt'), 303);
    assert.equal((await api('/sessions')).body.sessions.length, 2);
    const oldId = visitors[0]!.rawSessionId;

    await redis.restart();
    await waitUntil('/healthz answers 200 again', async () => (await fetch(`${site.url}/healthz`)).status === 200, 10_000);

    // The old cookie names a session that no longer exists: the visitor is a new visitor, not an error.
    const shown = await visitors[0]!.read();
    assert.equal(shown.status, 200);
    assert.equal(shown.uploaded, false);
    assert.equal(await visitors[0]!.upload('after the restart\n', 'a.txt'), 303);
    assert.notEqual(visitors[0]!.rawSessionId, oldId, 'a fresh session id, never the old one');
    // A second upload rewrites the session through the Lua scripts Redis no longer had cached.
    assert.equal(await visitors[0]!.upload('rewritten after the restart\n', 'a.txt'), 303);
    assert.deepEqual((await visitors[0]!.read()).lines, ['rewritten after the restart']);

    const listed = await api('/sessions');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.sessions.map((s: { id: string }) => s.id), [publicIdOf(visitors[0]!.rawSessionId!)]);
    assert.equal((await api('/stats')).body.live, 1);

    // The interval sweeper still runs: an expired session put in after the restart is removed and logged.
    const expiredId = publicIdOf(newSessionId());
    let swept = false;
    const onExpired = (event: LifecycleEvent) => {
      if (event.sid === expiredId) swept = true;
    };
    site.sessions.events.on('session.expired', onExpired);
    const nowMs = Date.now();
    await site.sessions.store.create(expiredId, { data: {}, createdAt: nowMs - 5_000, lastSeenAt: nowMs - 5_000, expiresAt: nowMs - 1_000 });
    await waitUntil('the sweeper logs the expiry', () => swept, 5_000);
    site.sessions.events.off('session.expired', onExpired);
    // A purge asked while that sweep still runs joins it (and reports its removal); one asked after finds nothing left.
    await waitUntil('a purge finds nothing expired left', async () => (await api('/purge-expired', 'POST')).body.removed === 0, 5_000);

    assert.ok(site.httpServer.listening);
    assert.equal(site.logs.lines().filter((line) => line.msg === 'request failed').length, 0, 'no 500s');
  });
});
