/**
 * The file store's owner index on disk (file-owner-index.ts): what a crash
 * between its steps leaves, and how readers deal with it. The behaviour every
 * store shares is the conformance suite's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fsPromises, { readdir, readlink, unlink, utimes } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { ownerDigest, type SessionRecord } from '../../middleware/store.ts';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { withFileStore } from '../helpers/store-fixtures.ts';

const newId = () => publicIdOf(newSessionId());
const owned = (now: number, owner: string): SessionRecord => ({ data: {}, createdAt: now, lastSeenAt: now, expiresAt: now + 600_000, owner });

test('an owned session has a marker under its owner\'s digest and a link back; removing it removes both', async () => {
  await withFileStore(async (store, dir) => {
    const now = Date.now();
    const id = newId();
    await store.create(id, owned(now, '../../etc/passwd'));
    const digest = ownerDigest('../../etc/passwd');
    assert.deepEqual(await readdir(join(dir, '.owners', digest)), [id], 'the owner appears on disk only as its digest');
    assert.equal(await readlink(join(dir, '.owned', id)), digest);
    assert.equal(await store.destroy(id), true);
    assert.equal(existsSync(join(dir, '.owners', digest)), false, 'an owner without sessions leaves no directory');
    assert.equal(existsSync(join(dir, '.owned', id)), false);
  });
});

test('a marker left by a crash is skipped at once, and removed once it is a minute old; a young one may be a creation under way', async () => {
  await withFileStore(async (store, dir) => {
    const now = Date.now();
    const [crashedLongAgo, creating] = [newId(), newId()];
    await store.create(crashedLongAgo, owned(now, 'ada'));
    await store.create(creating, owned(now, 'ada'));
    // Both session files gone without their index entries, as a crash between the two steps leaves them.
    await unlink(join(dir, `${crashedLongAgo}.json`));
    await unlink(join(dir, `${creating}.json`));
    const ownerDir = join(dir, '.owners', ownerDigest('ada'));
    const longAgo = new Date(now - 120_000);
    await utimes(join(ownerDir, crashedLongAgo), longAgo, longAgo);
    const page = await store.list({ owner: 'ada', sort: 'activity', limit: 10, now });
    assert.deepEqual(page.sessions, [], 'neither is listed');
    assert.deepEqual(await readdir(ownerDir), [creating], 'the old marker is removed, the young one kept');
    assert.equal(existsSync(join(dir, '.owned', crashedLongAgo)), false);
    assert.deepEqual(await store.endOwnerSessions('ada', now, []), [], 'nothing to end');
  });
});

test('the walks of the session directory pass over the index', async () => {
  await withFileStore(async (store) => {
    const now = Date.now();
    const id = newId();
    await store.create(id, owned(now, 'ada'));
    assert.equal(await store.count(now), 1);
    assert.deepEqual((await store.list({ sort: 'expiry', limit: 10, now })).sessions.map((s) => s.id), [id]);
    assert.deepEqual(await store.purgeExpired(now + 600_000, 10), [{ id, owner: 'ada' }]);
    assert.equal(await store.destroyAll(), 0);
  });
});

test('a removal from another process between a write\'s check and its rename: the write takes itself back', async () => {
  await withFileStore(async (store, dir) => {
    const now = Date.now();
    const id = newId();
    await store.create(id, owned(now, 'ada'));
    const otherProcess = new FileStore({ dir });
    // The other process ends the session right after this one checked it and before it renames: the moment
    // POSIX gives no way to close. The rename is hooked through node:fs/promises, which the store calls.
    const promises = fsPromises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const rename = promises.rename!;
    promises.rename = async (...args: unknown[]) => {
      promises.rename = rename;
      syncBuiltinESMExports();
      assert.deepEqual(await otherProcess.endOwnerSessions('ada', now, []), [id]);
      return rename(...args);
    };
    syncBuiltinESMExports();
    try {
      const later = now + 1000;
      assert.equal(await store.update(id, { ...owned(now, 'ada'), data: { late: true }, lastSeenAt: later }, later), false, 'the write says it did not land');
    } finally {
      promises.rename = rename;
      syncBuiltinESMExports();
    }
    assert.equal(await store.get(id, now), undefined, 'the ended session stays ended');
    assert.deepEqual((await store.list({ owner: 'ada', sort: 'activity', limit: 10, now })).sessions, []);
  });
});

test('a write that sees a removal\'s tombstone and takes itself back before the removal\'s unlink: the removal still reports the ending, once', async () => {
  await withFileStore(async (store, dir) => {
    const now = Date.now();
    const id = newId();
    await store.create(id, owned(now, 'ada'));
    const otherProcess = new FileStore({ dir });
    // The other process has touched its tombstone and is about to unlink when this one's write checks, renames,
    // finds the tombstone and takes itself back: the unlink then finds nothing.
    const promises = fsPromises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const unlinkFile = promises.unlink!;
    let written: boolean | undefined;
    promises.unlink = async (...args: unknown[]) => {
      promises.unlink = unlinkFile;
      syncBuiltinESMExports();
      const later = now + 1000;
      written = await store.update(id, { ...owned(now, 'ada'), data: { late: true }, lastSeenAt: later }, later);
      return unlinkFile(...args);
    };
    syncBuiltinESMExports();
    try {
      assert.deepEqual(await otherProcess.endOwnerSessions('ada', now, []), [id], 'the ending is reported');
    } finally {
      promises.unlink = unlinkFile;
      syncBuiltinESMExports();
    }
    assert.equal(written, false, 'the write took itself back');
    assert.equal(await store.get(id, now), undefined);
    assert.deepEqual(await store.endOwnerSessions('ada', now, []), [], 'and nobody reports it again');
    assert.deepEqual(await readdir(join(dir, '.ended')), [id], 'the taken-back write was claimed, only the tombstone is left');
  });
});
