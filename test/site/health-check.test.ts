import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { cookieHeaderOf, createSiteApp, textFileForm } from '../helpers/site-app.ts';

describe('GET /healthz', () => {
  for (const kind of STORE_KINDS) {
    test(`200 with the store type when the ${kind} store answers`, async () => {
      const site = await createSiteApp(kind);
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
    const site = await createSiteApp('file');
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
    const site = await createSiteApp('file');
    try {
      const res = await request(site.app.callback()).post('/healthz').expect(405).expect('Content-Type', /application\/json/);
      assert.equal(res.headers.allow, 'GET, HEAD');
      assert.equal(typeof res.body.error, 'string');
    } finally {
      await site.close();
    }
  });

  describe('503 when the store does not answer', () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    const unreachable: Record<StoreKind, () => Promise<SessionStore>> = {
      // A regular file where the session directory should be.
      file: async () => {
        const dir = await mkdtemp(join(tmpdir(), 'sessionkeeper-site-'));
        cleanups.push(() => rm(dir, { recursive: true, force: true }));
        await writeFile(join(dir, 'sessions'), 'not a directory');
        return new FileStore({ dir: join(dir, 'sessions') });
      },
      redis: async () => new RedisStore({ url: 'redis://127.0.0.1:1' }),
      postgres: async () => new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', table: 'unreachable' }),
    };

    for (const kind of STORE_KINDS) {
      test(`the ${kind} store`, async () => {
        const site = await createSiteApp(kind, {}, { store: await unreachable[kind](), storeTimeoutMs: 1000 });
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
