/**
 * Many requests at once on one session, on every store. Sessions are whole
 * documents and the last write wins (as in every koa-session store): what
 * concurrency must never do is corrupt one. "Not corrupt" here means:
 *
 * - every request is answered without a 5xx;
 * - the store still holds the session, readable, under its one public id;
 * - its data is exactly what one request wrote: every field present has the
 *   value a request gave it, whole (no torn, mixed or unknown values), and
 *   the fields the session had before the burst are unchanged;
 * - its times are consistent: createdAt as before the burst, lastSeenAt not
 *   before the burst, expiresAt = lastSeenAt + the idle TTL;
 * - the dashboard lists it once, with its keys and the size of its data.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionRecord } from '../../middleware/store.ts';
import { linesOf } from '../../server/text-lines.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { createSessionApp, type SessionApp } from '../helpers/session-app.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { Visitor } from '../helpers/visitor.ts';

const CONCURRENT_REQUESTS = 100;
const IDLE_TTL_MS = 30 * 60_000;

/** Upload number `n` of the burst: every line names it, so a torn or mixed upload shows. */
function burstLines(n: number): string[] {
  return Array.from({ length: 1 + (n % 17) * 5 }, (_, k) => `upload ${n} line ${k}`);
}

/** The times of a record are those of one consistent write. */
function assertConsistentTimes(record: SessionRecord, before: SessionRecord, burstStartMs: number): void {
  assert.equal(record.createdAt, before.createdAt, 'createdAt is unchanged');
  assert.ok(record.lastSeenAt >= burstStartMs, 'lastSeenAt comes from the burst');
  assert.equal(record.expiresAt, record.lastSeenAt + IDLE_TTL_MS, 'expiresAt follows lastSeenAt');
}

/** A visitor sending the same cookies, whose answers do not change the original's cookies. */
function sameCookies(visitor: Visitor): Visitor {
  const copy = new Visitor(visitor.baseUrl);
  copy.cookies = new Map(visitor.cookies);
  return copy;
}

for (const kind of STORE_KINDS) {
  describe(`100 concurrent requests on one session (${kind} store)`, () => {
    let site: ListeningTestApp;
    before(async () => {
      site = await createTestApp(kind, { sessions: { idleTtlMs: IDLE_TTL_MS }, listen: true });
    });
    after(() => site?.close());

    test('uploads and reads through the site: every read and the final session hold one whole upload', async () => {
      const visitor = new Visitor(site.url);
      assert.equal(await visitor.upload(`${burstLines(0).join('\n')}\n`, 'u.txt'), 303);
      const id = publicIdOf(visitor.rawSessionId!);
      const before = (await site.sessions.store.get(id, Date.now()))!;
      const burstStartMs = Date.now();

      const uploads = Array.from({ length: CONCURRENT_REQUESTS }, (_, i) => sameCookies(visitor).upload(`${burstLines(i + 1).join('\n')}\n`, `u${i + 1}.txt`));
      const reads = Array.from({ length: CONCURRENT_REQUESTS / 2 }, () => sameCookies(visitor).read());
      const [statuses, shown] = await Promise.all([Promise.all(uploads), Promise.all(reads)]);

      assert.deepEqual(new Set(statuses), new Set([303]), 'every upload was accepted');
      const wholeUpload = (lines: string[]) => {
        const n = Number(/^upload (\d+) line 0$/.exec(lines[0] ?? '')?.[1]);
        assert.ok(n >= 0 && n <= CONCURRENT_REQUESTS, `names an upload: ${lines[0]}`);
        assert.deepEqual(lines, burstLines(n), `upload ${n} is whole`);
      };
      for (const read of shown) {
        assert.equal(read.status, 200);
        wholeUpload(read.lines);
      }

      const record = (await site.sessions.store.get(id, Date.now()))!;
      assert.ok(record, 'the session is still there under its id');
      assert.deepEqual(Object.keys(record.data), ['upload']);
      const upload = record.data.upload as { fileName: string; text: string };
      const lines = linesOf(upload.text);
      wholeUpload(lines);
      assert.equal(upload.fileName, `u${/^upload (\d+)/.exec(lines[0]!)![1]}.txt`, 'name and lines come from the same upload');
      assertConsistentTimes(record, before, burstStartMs);

      const listed = await fetch(`${site.url}/admin/api/sessions?limit=1000`, { headers: { Authorization: basicAuth() } });
      const sessions = ((await listed.json()) as { sessions: { id: string; keys: string[]; sizeBytes: number }[] }).sessions;
      const rows = sessions.filter((session) => session.id === id);
      assert.equal(rows.length, 1, 'listed once');
      assert.deepEqual(rows[0]!.keys, ['upload']);
      assert.equal(rows[0]!.sizeBytes, Buffer.byteLength(JSON.stringify(record.data)));
    });

    test('each request writes its own field: the final session is one request\'s whole snapshot', async () => {
      const handle: SessionApp = await createSessionApp(kind, { sessions: { idleTtlMs: IDLE_TTL_MS } });
      try {
        const app = handle.app.callback();
        const first = await request(app).post('/write?base=kept&other=also').expect(200);
        const cookie = ([] as string[]).concat(first.headers['set-cookie']).map((c) => c.split(';')[0]).join('; ');
        const id = publicIdOf(/sid=([^;]+)/.exec(cookie)![1]!);
        const before = (await handle.sessions.store.get(id, Date.now()))!;
        const burstStartMs = Date.now();

        const answers = await Promise.all(
          Array.from({ length: CONCURRENT_REQUESTS }, (_, i) => request(app).post(`/write?f${i}=${'v'.repeat(i + 1)}`).set('Cookie', cookie)),
        );
        assert.deepEqual(new Set(answers.map((res) => res.status)), new Set([200]));

        const record = (await handle.sessions.store.get(id, Date.now()))!;
        assert.ok(record, 'the session is still there under its id');
        const { base, other, ...fields } = record.data;
        assert.deepEqual({ base, other }, { base: 'kept', other: 'also' }, 'the fields from before the burst are unchanged');
        assert.ok(Object.keys(fields).length >= 1, 'at least the last writer\'s field');
        for (const [name, value] of Object.entries(fields)) {
          const i = Number(/^f(\d+)$/.exec(name)?.[1]);
          assert.ok(i >= 0 && i < CONCURRENT_REQUESTS, `no unknown field: ${name}`);
          assert.equal(value, 'v'.repeat(i + 1), `${name} has its whole value`);
        }
        assertConsistentTimes(record, before, burstStartMs);
        const readBack = await request(app).get('/read').set('Cookie', cookie).expect(200);
        assert.deepEqual(readBack.body.data, record.data, 'the next request sees exactly the stored session');
      } finally {
        await handle.close();
      }
    });
  });
}
