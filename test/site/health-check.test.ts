import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { unreachableStore } from '../helpers/failing-stores.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp } from '../helpers/test-app.ts';
import { cookieHeaderOf, textFileForm } from '../helpers/upload-forms.ts';

describe('GET /healthz', () => {
  for (const kind of STORE_KINDS) {
    test(`200 with the store type when the ${kind} store answers`, async () => {
      const site = await createTestApp(kind);
      try {
        const res = await request(site.app.callback()).get('/healthz').expect(200).expect('Content-Type', /application\/json/);
        assert.deepEqual(res.body, { store: kind, healthy: true });
        assert.equal(res.headers['cache-control'], 'no-store');
        assert.equal(res.headers['set-cookie'], undefined);
        await request(site.app.callback()).head('/healthz').expect(200);
      } finally {
        await site.close();
      }
    });
  }

  test('never touches a visitor session, even when the request carries one', async () => {
    const site = await createTestApp('file');
    try {
      const form = textFileForm('hello\n');
      const cookie = cookieHeaderOf(await request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body).expect(303));
      const before = await site.storedSession(cookie);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const res = await request(site.app.callback()).get('/healthz').set('Cookie', cookie).expect(200);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.deepEqual(await site.storedSession(cookie), before, 'lastSeenAt and expiresAt unchanged');
    } finally {
      await site.close();
    }
  });

  test('other methods get 405 with Allow, as JSON', async () => {
    const site = await createTestApp('file');
    try {
      const res = await request(site.app.callback()).post('/healthz').expect(405).expect('Content-Type', /application\/json/);
      assert.equal(res.headers.allow, 'GET, HEAD');
      assert.equal(typeof res.body.error, 'string');
    } finally {
      await site.close();
    }
  });

  describe('503 when the store does not answer', () => {
    for (const kind of STORE_KINDS) {
      test(`the ${kind} store`, async () => {
        const site = await createTestApp(kind, { store: unreachableStore(kind), storeTimeoutMs: 1000 });
        try {
          const res = await request(site.app.callback()).get('/healthz').expect(503).expect('Content-Type', /application\/json/);
          assert.deepEqual(res.body, { store: kind, healthy: false });
        } finally {
          await site.close();
        }
      });
    }
  });
});
