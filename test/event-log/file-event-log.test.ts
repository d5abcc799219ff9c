/**
 * What only the file store's event log must prove: it lives in `.events`
 * inside the store's directory, where no session walk or namespace goes; it
 * rotates by whole segments; a line half-written is not read until whole, a
 * damaged line is skipped; a removed directory is made again. The shared
 * behaviour is the conformance suite's, run at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EVENT_LOG_DIR, FileEventLog } from '../../middleware/event-log/file-event-log.ts';
import { MINUTE_MS } from '../../middleware/event-log/event-log.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { runEventLogConformance, storeEventLogFixture } from '../conformance/event-log-suite.ts';
import { withFileStore } from '../helpers/store-fixtures.ts';

const DAY_MS = 24 * 60 * MINUTE_MS;
let eventCount = 0;
const event = (atMs = Date.now()): LifecycleEvent => ({ event: 'session.created', sid: `sid-${++eventCount}`, store: 'file', at: new Date(atMs).toISOString() });


test('the log lives in .events beside the sessions, and no listing, count or purge of sessions sees it', async () => {
  await withFileStore(async (store, dir) => {
    const log = store.openEventLog(DAY_MS);
    await log.init();
    const now = Date.now();
    const id = publicIdOf(newSessionId());
    await store.create(id, { data: {}, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });
    await log.append([event(), event()]);
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('.')), [EVENT_LOG_DIR]);
    assert.equal(await store.count(now), 1);
    assert.equal((await store.list({ limit: 10, sort: 'activity', now })).sessions.length, 1);
    assert.deepEqual(await store.purgeExpired(now + 120_000, 100), [{ id }]);
    assert.equal((await log.latest(10)).events.length, 2, 'the purge left the log alone');
    assert.equal(await store.destroyAll(), 0);
    assert.equal((await log.latest(10)).events.length, 2, 'destroying every session left the log alone');
  });
});

test('segments cover 1/24 of the retention (a minute to an hour), and a trim removes whole segments only', async () => {
  await withFileStore(async (_store, dir) => {
    const log = new FileEventLog(dir, 24 * MINUTE_MS); // segments of one minute
    await log.init();
    await log.append([event()]);
    const [segment] = await readdir(join(dir, EVENT_LOG_DIR)).then((names) => names.filter((name) => name.startsWith('seg-')));
    const start = Number(/^seg-(\d+)\.jsonl$/.exec(segment!)![1]);
    assert.equal(start % MINUTE_MS, 0);
    assert.ok(Date.now() - start < MINUTE_MS);
    // Trimming at the segment's own time keeps it: it may still be written to.
    await log.trim(start + 1, Date.now());
    assert.equal((await log.size()).events, 1);
    await log.trim(start + 3 * MINUTE_MS, start + 3 * MINUTE_MS);
    assert.equal((await log.size()).events, 0, 'a segment entirely past the bound is deleted');
  });
});

test('a line being written is read once it is whole; a damaged line is skipped, the rest stays readable', async () => {
  await withFileStore(async (_store, dir) => {
    const log = new FileEventLog(dir, DAY_MS);
    await log.init();
    const { position } = await log.latest(0);
    const first = event();
    await log.append([first]);
    const [segment] = (await readdir(join(dir, EVENT_LOG_DIR))).filter((name) => name.startsWith('seg-'));
    const path = join(dir, EVENT_LOG_DIR, segment!);
    const half = JSON.stringify(event());
    await appendFile(path, half.slice(0, 20));
    const page = await log.readAfter(position, 100);
    assert.deepEqual(page.events.map((e) => e.sid), [first.sid], 'the half line is not read');
    await appendFile(path, `${half.slice(20)}\n{"not json\n`);
    const last = event();
    await log.append([last]);
    const rest = await log.readAfter(page.position, 100);
    assert.deepEqual(rest.events.map((e) => e.sid), [JSON.parse(half).sid, last.sid], 'the completed line, then past the damaged one');
    assert.deepEqual((await log.latest(10)).events.map((e) => e.sid), [last.sid, JSON.parse(half).sid, first.sid]);
  });
});

test('a removed .events directory is made again by the next append; a file in its place makes appends fail', async () => {
  await withFileStore(async (_store, dir) => {
    const log = new FileEventLog(dir, DAY_MS);
    await log.init();
    await rm(join(dir, EVENT_LOG_DIR), { recursive: true });
    assert.deepEqual((await log.latest(10)).events, [], 'reading a missing log is reading an empty one');
    await log.append([event()]);
    assert.equal((await log.latest(10)).events.length, 1);
    await rm(join(dir, EVENT_LOG_DIR), { recursive: true });
    await writeFile(join(dir, EVENT_LOG_DIR), 'not a directory');
    await assert.rejects(log.append([event()]), { code: 'ENOTDIR' });
  });
});

runEventLogConformance('file', storeEventLogFixture('file'));
