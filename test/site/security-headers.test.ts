import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { cookieHeaderOf, textFileForm } from '../helpers/upload-forms.ts';

describe('security headers and page hygiene', () => {
  let site: TestApp;
  let cookie: string;
  before(async () => {
    site = await createTestApp('file', { server: { uploadMaxBytes: 100 } });
    const form = textFileForm('<script>alert(1)</script>\n<style>body{}</style>\n');
    cookie = cookieHeaderOf(await request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body).expect(303));
  });
  after(async () => {
    await site.close();
  });

  const responses: { name: string; send: () => request.Test; status: number }[] = [
    { name: 'the upload page', send: () => request(site.app.callback()).get('/').set('Cookie', cookie), status: 200 },
    { name: 'the action page', send: () => request(site.app.callback()).get('/action').set('Cookie', cookie), status: 200 },
    { name: 'a redirect', send: () => request(site.app.callback()).post('/forget'), status: 303 },
    { name: 'a 404 page', send: () => request(site.app.callback()).get('/no/such/page'), status: 404 },
    {
      name: 'a 413 page',
      send: () => {
        const form = textFileForm(Buffer.alloc(101, 'a'));
        return request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body);
      },
      status: 413,
    },
    { name: 'the stylesheet', send: () => request(site.app.callback()).get('/static/style.css'), status: 200 },
    { name: 'the health check', send: () => request(site.app.callback()).get('/healthz'), status: 200 },
  ];

  for (const { name, send, status } of responses) {
    test(`${name} carries the security headers`, async () => {
      const res = await send().expect(status);
      const csp = res.headers['content-security-policy'] ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /style-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /object-src 'none'/);
      // No <base> element may be injected to redirect relative links and form posts.
      assert.match(csp, /base-uri 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['referrer-policy'], 'same-origin');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      // Plain-http development must not be told to upgrade its own form posts.
      assert.doesNotMatch(csp, /upgrade-insecure-requests/);
      assert.equal(res.headers['strict-transport-security'], undefined);
    });
  }

  test('pages have no inline scripts or styles and load nothing from another origin', async () => {
    for (const path of ['/', '/action', '/missing']) {
      const res = await request(site.app.callback()).get(path).set('Cookie', cookie);
      assert.doesNotMatch(res.text, /<script|<style|\sstyle=|\son[a-z]+=/i, path);
      assert.doesNotMatch(res.text, /(src|href)="(https?:)?\/\//i, path);
      assert.match(res.text, /<link rel="stylesheet" href="\/static\/style\.css">/, path);
    }
  });

  test('in production, browsers are told to use https only', async () => {
    const production = await createTestApp('file', { sessions: { production: true }, server: { trustProxy: true } });
    try {
      const res = await request(production.app.callback()).get('/').set('X-Forwarded-Proto', 'https').expect(200);
      assert.match(res.headers['content-security-policy'] ?? '', /upgrade-insecure-requests/);
      assert.match(res.headers['strict-transport-security'] ?? '', /max-age=\d+/);
      // HSTS binds the whole domain to HTTPS: the reference server decides that for every page, the dashboard's included.
      const dashboard = await request(production.app.callback()).get('/admin/login').set('X-Forwarded-Proto', 'https').expect(200);
      assert.match(dashboard.headers['content-security-policy'] ?? '', /upgrade-insecure-requests/);
      assert.match(dashboard.headers['strict-transport-security'] ?? '', /max-age=\d+/);
    } finally {
      await production.close();
    }
  });
});
