import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { withFileStore } from '../helpers/store-fixtures.ts';

/** Directories this process holds open, by path (Linux). */
function openDirectories(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}


test('a sweep in small batches, each resuming the walk of the one before, reports every expired session exactly once', async () => {
  await withFileStore(async (store) => {
    const now = Date.now();
    const expired = new Set<string>();
    for (let i = 0; i < 240; i++) {
      const id = publicIdOf(newSessionId());
      const isExpired = i % 2 === 0;
      if (isExpired) expired.add(id);
      await store.create(id, { data: { i }, createdAt: now - 9_000, lastSeenAt: now - 9_000, expiresAt: isExpired ? now - 1_000 : now + 60_000 });
    }
    const purged: string[] = [];
    let calls = 0;
    for (;;) {
      const batch = await store.purgeExpired(Date.now(), 20);
      calls++;
      purged.push(...batch.map((session) => session.id));
      if (batch.length < 20) break;
    }
    assert.equal(purged.length, expired.size, 'each expired session reported once');
    assert.deepEqual(new Set(purged), expired);
    assert.ok(calls <= expired.size / 20 + 1, `${calls} calls for ${expired.size / 20} full batches`);
    assert.equal(await store.count(Date.now()), 120, 'live sessions untouched');
  });
});

test('a purge that fills its batch leaves its walk open for the next one; close() and the walk\'s end close it', async () => {
  await withFileStore(async (store, dir) => {
    const now = Date.now();
    for (let i = 0; i < 5; i++) {
      await store.create(publicIdOf(newSessionId()), { data: {}, createdAt: now - 9_000, lastSeenAt: now - 9_000, expiresAt: now - 1_000 });
    }
    assert.equal((await store.purgeExpired(Date.now(), 2)).length, 2);
    assert.ok(openDirectories().includes(dir), 'the walk is parked, its directory open');
    await store.close();
    assert.ok(!openDirectories().includes(dir), 'close() closed it');
    assert.equal((await store.purgeExpired(Date.now(), 10)).length, 3, 'a new walk finds the rest');
    assert.ok(!openDirectories().includes(dir), 'a walk that reached its end is closed');
  });
});
