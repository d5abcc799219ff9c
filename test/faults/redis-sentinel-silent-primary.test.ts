/**
 * Sentinel naming a primary that accepts connections and never answers (a
 * hung host, or one the app cannot reach while the Sentinels still can, until
 * their down-after time): node-redis's Sentinel client waits for that primary
 * for ever, so the store bounds its start. The start fails within seconds,
 * close() then frees every connection at once, and a store left running
 * serves as soon as the Sentinels name a primary that answers, with no restart.
 * A real sentinel process and a real redis-server; the silent primary is a TCP
 * server that never replies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { ask, freePorts, makeRoot, spawnServer, stopAll, untilAnswering } from '../helpers/redis-processes.ts';
import { waitUntil } from '../helpers/wait.ts';

const NAME = 'silent-primary';

test('Sentinel names a primary that never answers: the start fails within seconds, close() frees every connection, and a store left running serves once the Sentinels name a primary that answers', { timeout: 60_000 }, async () => {
  const root = await makeRoot('silent-primary');
  const [silentPort, realPort, sentinelPort] = await freePorts(3);
  const servers: ChildProcess[] = [];
  // Accepts, never replies. The Sentinel's own links to it stay open; the store's connections are those that
  // greet it as node-redis does (CLIENT SETINFO LIB-NAME node-redis), and they are all that `held` keeps.
  const held = new Set<Socket>();
  const everySocket = new Set<Socket>();
  const silent = createServer((socket) => {
    everySocket.add(socket);
    socket.on('data', (chunk) => {
      if (chunk.includes('node-redis')) held.add(socket);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => held.delete(socket));
  }).listen(silentPort, '127.0.0.1');
  await once(silent, 'listening');
  const launch = async (port: number, args: string[]) => {
    const log = join(root, `${port}.log`);
    const child = spawnServer([...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', root, '--logfile', log]);
    servers.push(child);
    await untilAnswering(`127.0.0.1:${port}`, child, log);
  };
  const sentinel = `127.0.0.1:${sentinelPort}`;
  const openStore = () => new RedisStore({ sentinels: [sentinel], sentinelName: NAME, prefix: 'sktest:silent:' });
  try {
    const config = join(root, 'sentinel.conf');
    // A long down-after: the Sentinel keeps naming the silent primary for the whole test.
    await writeFile(config, [`sentinel monitor ${NAME} 127.0.0.1 ${silentPort} 1`, `sentinel down-after-milliseconds ${NAME} 120000`, ''].join('\n'));
    await launch(sentinelPort!, [config, '--sentinel']);
    await launch(realPort!, ['--save', '', '--appendonly', 'no']);

    const closed = openStore();
    let started = Date.now();
    await assert.rejects(closed.init());
    assert.equal(held.size, 1, 'one connection of the store to the primary, none of the Sentinel client\'s own');
    assert.ok(Date.now() - started < 12_000, `the start failed within seconds, not ${Date.now() - started} ms`);
    started = Date.now();
    await closed.close();
    assert.ok(Date.now() - started < 3_000, `close() took ${Date.now() - started} ms`);
    await waitUntil('every connection to the silent primary closed', async () => held.size === 0, 3_000);

    const running = openStore();
    try {
      await assert.rejects(running.init());
      started = Date.now();
      await assert.rejects(running.count(Date.now()), 'no primary answers meanwhile');
      assert.ok(Date.now() - started < 6_000, 'a call fails within seconds meanwhile');

      // The operator points the Sentinel at a primary that answers.
      await ask(sentinel, ['SENTINEL', 'REMOVE', NAME]);
      await ask(sentinel, ['SENTINEL', 'MONITOR', NAME, '127.0.0.1', String(realPort), '1']);
      await waitUntil('the store serves on the primary that answers', () => running.count(Date.now()).then(() => true, () => false), 30_000);
      const now = Date.now();
      await running.create('s'.repeat(43), { data: { n: 1 }, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });
      assert.deepEqual((await running.get('s'.repeat(43), Date.now()))?.data, { n: 1 });
      assert.equal(await ask(`127.0.0.1:${realPort}`, ['DBSIZE']) as number > 0, true, 'written to the primary the Sentinel names');
    } finally {
      await running.close();
    }
    await waitUntil('every connection to the silent primary closed', async () => held.size === 0, 3_000);
  } finally {
    for (const socket of everySocket) socket.destroy();
    silent.close();
    await stopAll(servers, root);
  }
});
