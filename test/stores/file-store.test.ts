/**
 * What only the file store must prove: atomic writes under SIGKILL, paths that
 * never leave its directory, file names that are digests, tolerance of garbage
 * files, errors that surface, and its index hint. The shared behaviour is the
 * conformance suite's, run at the end.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import type { SessionRecord } from '../../middleware/store.ts';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { runStoreConformance } from '../conformance/store-suite.ts';
import { createNamespace } from '../helpers/store-fixtures.ts';

const MINUTE_MS = 60_000;
const WRITER_FIXTURE = fileURLToPath(new URL('./fixtures/file-writer.ts', import.meta.url));

const newId = () => publicIdOf(newSessionId());
const liveRecord = (data: Record<string, unknown>, now = Date.now()): SessionRecord => ({
  data,
  createdAt: now,
  lastSeenAt: now,
  expiresAt: now + 30 * MINUTE_MS,
});

describe('FileStore', () => {
  let root: string;
  let caseNumber = 0;
  /** A fresh, initialised store in its own directory under `root`. */
  const freshStore = async () => {
    const store = new FileStore({ dir: join(root, `case-${++caseNumber}`, 'sessions') });
    await store.init();
    return store;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sessionkeeper-file-store-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('init creates a missing nested directory, private to its owner', async () => {
    const dir = join(root, 'nested', 'deeper', 'sessions');
    const store = new FileStore({ dir });
    assert.equal(store.location, dir);
    await store.init();
    const stats = await stat(dir);
    assert.ok(stats.isDirectory());
    assert.equal(stats.mode & 0o777, 0o700);
    await store.init();
    await store.ping();
  });

  test('a writer killed mid-write leaves every session whole, old or new version', async () => {
    const store = await freshStore();
    const ids = Array.from({ length: 50 }, newId);
    for (const [index, id] of ids.entries()) {
      const size = 1_000 + index * 997;
      await store.create(id, liveRecord({ version: 0, size, payload: 'x'.repeat(size) }));
    }

    const writer = spawn(process.execPath, ['--import', 'tsx', WRITER_FIXTURE, store.location, ...ids], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(writer, 'exit');
    const [firstOutput] = await Promise.race([once(writer.stdout, 'data'), exited.then(() => ['(exited)'])]);
    assert.equal(String(firstOutput).trim(), 'writing', 'the writer started');
    await sleep(300);
    writer.kill('SIGKILL');
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL', 'the writer was killed, not finished');

    const versions: number[] = [];
    for (const id of ids) {
      const stored = JSON.parse(await readFile(join(store.location, `${id}.json`), 'utf8'));
      assert.equal(stored.data.payload.length, stored.data.size, 'the payload is complete');
      const record = await store.get(id, Date.now());
      assert.deepEqual(record?.data, stored.data);
      versions.push(stored.data.version);
    }
    assert.ok(Math.max(...versions) > 0, 'the writer rewrote sessions before it was killed');
    assert.equal(await store.count(Date.now()), ids.length, 'leftover temporary files are not sessions');
  });

  test('ids that are not public ids never reach a path outside the directory', async () => {
    const store = await freshStore();
    const parent = join(store.location, '..');
    // A valid session file beside the directory: a path built from `../victim` would find it.
    const victim = JSON.stringify({ v: 1, ...liveRecord({ victim: true }) });
    await writeFile(join(parent, 'victim.json'), victim);
    const junk = Array.from({ length: 4096 }, (_, i) => String.fromCharCode(33 + ((i * 31) % 94))).join('');
    const hostileIds = ['../../etc/passwd', 'a/b', '', junk, '..', '../victim', `../${newId()}`];

    const now = Date.now();
    for (const id of hostileIds) {
      assert.equal(await store.get(id, now), undefined);
      assert.equal(await store.destroy(id), false);
      assert.equal(await store.update(id, liveRecord({ x: 1 }), now), false);
      await assert.rejects(store.create(id, liveRecord({ x: 1 })), TypeError);
    }
    assert.deepEqual((await readdir(parent)).sort(), ['sessions', 'victim.json']);
    assert.equal(await readFile(join(parent, 'victim.json'), 'utf8'), victim);
    assert.deepEqual(await readdir(store.location), []);
  });

  test('file names are public ids, and raw ids appear in no name or content', async () => {
    const store = await freshStore();
    const rawIds = Array.from({ length: 5 }, () => newSessionId());
    for (const rawId of rawIds) await store.create(publicIdOf(rawId), liveRecord({ note: 'hello' }));

    const names = await readdir(store.location);
    assert.deepEqual(names.sort(), rawIds.map((rawId) => `${publicIdOf(rawId)}.json`).sort());
    for (const name of names) {
      const content = await readFile(join(store.location, name), 'utf8');
      for (const rawId of rawIds) {
        assert.ok(!name.includes(rawId) && !content.includes(rawId), 'a raw id leaked');
      }
    }
  });

  test('a garbage file named like a session is not found, and purged as expired', async () => {
    const store = await freshStore();
    const garbageId = newId();
    const liveId = newId();
    await writeFile(join(store.location, `${garbageId}.json`), '{"trunc');
    await store.create(liveId, liveRecord({ fine: true }));

    const now = Date.now() + 1_000;
    assert.equal(await store.get(garbageId, now), undefined);
    assert.deepEqual((await store.list({ limit: 10, sort: 'expiry', now })).sessions.map((s) => s.id), [liveId]);
    assert.deepEqual(await store.purgeExpired(now, 10), [{ id: garbageId }]);
    assert.deepEqual(await readdir(store.location), [`${liveId}.json`]);
    assert.ok(await store.get(liveId, now));
  });

  test('temporary and foreign files are ignored, and a fresh temporary file is left alone', async () => {
    const store = await freshStore();
    const id = newId();
    await store.create(id, liveRecord({ a: 1 }));
    // A write in progress in another process, and files someone else put here.
    const strays = ['.tmp-0123456789abcdef', 'README.txt', 'not-an-id.json', `${id}.json.bak`];
    for (const name of strays) await writeFile(join(store.location, name), '{"v":1}');

    const now = Date.now();
    assert.equal(await store.count(now), 1);
    assert.deepEqual((await store.list({ limit: 10, sort: 'activity', now })).sessions.map((s) => s.id), [id]);
    assert.deepEqual(await store.purgeExpired(now + 60 * MINUTE_MS, 10), [{ id }]);
    await store.create(id, liveRecord({ a: 2 }));
    assert.equal(await store.destroyAll(), 1);
    // The store's own bookkeeping (tombstones of ended sessions, the owner index) aside, only the strays are left.
    const own = new Set(['.ended', '.owners', '.owned']);
    assert.deepEqual((await readdir(store.location)).filter((name) => !own.has(name)).sort(), [...strays].sort());
  });

  test('reading sessions does not disturb the activity order kept in atime', async () => {
    const store = await freshStore();
    const now = Date.now();
    const older = newId();
    const newer = newId();
    await store.create(older, { data: {}, createdAt: now - 20 * MINUTE_MS, lastSeenAt: now - 10 * MINUTE_MS, expiresAt: now + 20 * MINUTE_MS });
    await store.create(newer, { data: {}, createdAt: now - 20 * MINUTE_MS, lastSeenAt: now - 5 * MINUTE_MS, expiresAt: now + 25 * MINUTE_MS });
    for (let i = 0; i < 3; i++) assert.ok(await store.get(older, now));

    const page = await store.list({ limit: 10, sort: 'activity', now });
    assert.deepEqual(page.sessions.map((s) => s.id), [newer, older]);
  });

  test('an unwritable directory makes create reject, not crash', async () => {
    const store = await freshStore();
    await chmod(store.location, 0o500);
    if (await canWriteInto(store.location)) {
      // Running as root, where modes do not stop writes: make the path unusable instead.
      await rm(store.location, { recursive: true, force: true });
      await writeFile(store.location, 'not a directory');
    }
    await assert.rejects(store.create(newId(), liveRecord({ a: 1 })), (error: NodeJS.ErrnoException) => {
      assert.ok(['EACCES', 'ENOTDIR'].includes(error.code ?? ''), `unexpected ${error.code}`);
      return true;
    });
    await assert.rejects(store.ping());
    await chmod(store.location, 0o700);
  });
});

async function canWriteInto(dir: string): Promise<boolean> {
  try {
    await writeFile(join(dir, 'probe'), '');
    await rm(join(dir, 'probe'));
    return true;
  } catch {
    return false;
  }
}

runStoreConformance('file', async () => {
  const namespace = await createNamespace('file');
  return { store: namespace.open(), openPeer: async () => namespace.open(), cleanup: namespace.remove };
});
