import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

describe('static files under /static/', () => {
  let site: TestApp;
  before(async () => {
    site = await createTestApp('file');
  });
  after(async () => {
    await site.close();
  });

  test('served with a type and an ETag, 304 when unchanged, 404 for anything else, never with a session', async () => {
    const css = await request(site.app.callback()).get('/static/style.css').expect(200).expect('Content-Type', 'text/css; charset=utf-8');
    assert.match(css.text, /\.lines li/);
    assert.equal(css.headers['set-cookie'], undefined);
    await request(site.app.callback()).get('/static/style.css').set('If-None-Match', css.headers.etag!).expect(304);
    await request(site.app.callback()).get('/static/favicon.svg').expect(200).expect('Content-Type', 'image/svg+xml');
    for (const path of ['/static/missing.css', '/static/../server/app.ts', '/static/..%2Fserver%2Fapp.ts', '/static/', '/static/style.css/x']) {
      const res = await request(site.app.callback()).get(path).expect(404);
      assert.doesNotMatch(res.text, /createApp/);
      assert.equal(res.headers['set-cookie'], undefined);
    }
    await request(site.app.callback()).post('/static/style.css').expect(405);
  });
});
