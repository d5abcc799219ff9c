/**
 * SESSION_MAX_BYTES through the middleware, on every store: a session whose
 * data is larger as UTF-8 JSON is refused with SessionTooLargeError (413) and
 * the store keeps what it had; one of exactly the limit is stored.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import { SessionTooLargeError } from '../../middleware/index.ts';
import { dataSizeBytes } from '../../middleware/store.ts';
import { createSessionApp, type SessionApp } from '../helpers/session-app.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';

const MAX_BYTES = 1024;

/** A value `a` whose session data, `{"a":"…"}`, is exactly `bytes` long as JSON. */
function valueForSize(bytes: number): string {
  return 'x'.repeat(bytes - '{"a":""}'.length);
}

for (const kind of STORE_KINDS) {
  describe(`SESSION_MAX_BYTES on the ${kind} store`, () => {
    let handle: SessionApp;
    let errors: unknown[];
    let events: LifecycleEvent[];
    beforeEach(async () => {
      handle = await createSessionApp(kind, { sessions: { maxSessionBytes: MAX_BYTES } });
      errors = [];
      events = [];
      handle.app.on('error', (err: unknown) => errors.push(err));
      handle.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
    });
    afterEach(async () => {
      await handle.close();
    });

    /** POST /write?a=value, with a cookie when given; answers the response. */
    function write(value: string, cookie?: string): request.Test {
      const req = request(handle.app.callback()).post(`/write?a=${value}`);
      return cookie ? req.set('Cookie', cookie) : req;
    }

    function assertRefused(sizeBytes: number): void {
      assert.equal(errors.length, 1, 'one error reached the app');
      const err = errors[0];
      assert.ok(err instanceof SessionTooLargeError, `a SessionTooLargeError, got ${String(err)}`);
      assert.equal(err.sizeBytes, sizeBytes);
      assert.equal(err.maxBytes, MAX_BYTES);
      assert.equal(err.status, 413);
      assert.equal(err.expose, true);
    }

    test('a new session of exactly the limit is stored; a larger one is refused, storing nothing and setting no cookie', async () => {
      const refused = await write(valueForSize(MAX_BYTES + 1)).expect(413);
      assert.match(refused.text, /The session was not stored: its data is 1025 bytes as JSON, more than the 1024 bytes SESSION_MAX_BYTES allows/);
      assert.equal(refused.headers['set-cookie'], undefined);
      assertRefused(MAX_BYTES + 1);
      assert.equal(await handle.sessions.store.count(Date.now()), 0);
      assert.deepEqual(events, [], 'no session.created for a session never stored');

      const stored = await write(valueForSize(MAX_BYTES)).expect(200);
      const rawId = /sid=([^;]+)/.exec(String(stored.headers['set-cookie']))![1]!;
      const record = await handle.sessions.store.get(publicIdOf(rawId), Date.now());
      assert.deepEqual(record?.data, { a: valueForSize(MAX_BYTES) });
      assert.equal(dataSizeBytes(record!.data), MAX_BYTES);
    });

    test('an update to exactly the limit is stored; one byte more is refused and the session keeps its previous data', async () => {
      const first = await write('small').expect(200);
      const cookie = ([] as string[]).concat(first.headers['set-cookie']).map((c) => c.split(';')[0]).join('; ');
      const id = publicIdOf(/sid=([^;]+)/.exec(cookie)![1]!);

      await write(valueForSize(MAX_BYTES), cookie).expect(200);
      assert.deepEqual((await handle.sessions.store.get(id, Date.now()))?.data, { a: valueForSize(MAX_BYTES) });

      await write(valueForSize(MAX_BYTES + 1), cookie).expect(413);
      assertRefused(MAX_BYTES + 1);
      assert.deepEqual((await handle.sessions.store.get(id, Date.now()))?.data, { a: valueForSize(MAX_BYTES) }, 'the previous version stays');
      const read = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
      assert.deepEqual(read.body.data, { a: valueForSize(MAX_BYTES) });
    });

    test('the limit counts UTF-8 bytes of the JSON, escapes included', async () => {
      // Each "\u0001" is one character, and six bytes once JSON-escaped: 170 of them fit in no 1 KiB session.
      const first = await write(encodeURIComponent('\u0001'.repeat(170))).expect(413);
      assert.equal(first.headers['set-cookie'], undefined);
      assertRefused(dataSizeBytes({ a: '\u0001'.repeat(170) }));
      assert.equal(await handle.sessions.store.count(Date.now()), 0);
    });
  });
}
