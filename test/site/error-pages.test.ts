import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import Koa from 'koa';
import request from 'supertest';
import { StoreUnavailableError } from '../../middleware/store.ts';
import { SecurityLog } from '../../middleware/security-log.ts';
import { AdminPaths } from '../../admin/paths.ts';
import { errorPages } from '../../server/error-pages.ts';
import { createPageRenderer } from '../../server/views.ts';
import { captureLogs, type LogCapture } from '../helpers/log-capture.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { cookieHeaderOf, textFileForm } from '../helpers/upload-forms.ts';

/** Matches a stack frame or a source path, which must never reach a response. */
const STACK_TRACE = /\bat .+:\d+:\d+|\/work\/|node_modules|\.ts\b/;

describe('error pages of the site', () => {
  let site: TestApp;
  before(async () => {
    site = await createTestApp('file');
  });
  after(async () => {
    await site.close();
  });

  test('an unknown path gets a 404 page and no session', async () => {
    const res = await request(site.app.callback()).get('/no/such/page').expect(404).expect('Content-Type', /text\/html/);
    assert.match(res.text, /<h1>Page not found<\/h1>/);
    assert.match(res.text, /<a class="button" href="\/">Back to the upload page<\/a>/);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  test('a known path asked with another method gets a 405 page with Allow', async () => {
    const res = await request(site.app.callback()).put('/action').expect(405);
    assert.equal(res.headers.allow, 'HEAD, GET');
    assert.match(res.text, /<h1>Method not allowed<\/h1>/);
  });

  test('the dashboard is mounted before the session middleware: it never creates a visitor session', async () => {
    for (const path of ['/admin', '/admin/api/stats']) {
      const res = await request(site.app.callback()).get(path);
      assert.notEqual(res.status, 404, `${path} is answered by the dashboard`);
      assert.doesNotMatch(String(res.headers['set-cookie'] ?? ''), /(^|,)\s*sid=/, path);
    }
    assert.equal(await site.sessions.store.count(Date.now()), 0);
  });
});

describe('when the store stops answering and comes back', () => {
  let site: TestApp;
  let dir: string;
  before(async () => {
    site = await createTestApp('file', { storeTimeoutMs: 1000 });
    dir = site.namespace.settings.fileDir!;
  });
  after(async () => {
    await site.close();
  });

  test('pages that need the session get a clear 503 page, then work again without a restart', async () => {
    const form = textFileForm('hello\n');
    const cookie = cookieHeaderOf(await request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body).expect(303));

    // The session directory turns into a regular file: every store call fails.
    await rm(dir, { recursive: true });
    await writeFile(dir, 'not a directory');
    for (const send of [
      () => request(site.app.callback()).get('/').set('Cookie', cookie),
      () => request(site.app.callback()).get('/action').set('Cookie', cookie),
      () => request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body),
    ]) {
      const res = await send().expect(503).expect('Content-Type', /text\/html/);
      assert.match(res.text, /<h1>Sessions are unavailable<\/h1>/);
      assert.match(res.text, /The file session store is not answering right now/);
      assert.doesNotMatch(res.text, STACK_TRACE);
    }
    await request(site.app.callback()).get('/healthz').expect(503);
    const failures = site.logs.lines().filter((line) => line.msg === 'session store unavailable');
    assert.equal(failures.length, 1, 'logged once, by the store guard, not once per request');
    assert.doesNotMatch(site.logs.text(), /request failed/);

    // The operator removes the stray file; the store makes its directory again by itself.
    await rm(dir);
    const res = await request(site.app.callback()).get('/').set('Cookie', cookie).expect(200);
    assert.match(res.text, /holds no upload yet/);
    await request(site.app.callback()).get('/healthz').expect(200);
    await request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body).expect(303);
  });
});

describe('errorPages for unexpected errors', () => {
  function appThrowing(err: unknown): { app: Koa; logs: LogCapture } {
    const logs = captureLogs('info');
    const app = new Koa();
    app.use(errorPages(logs.logger, new SecurityLog(logs.logger), createPageRenderer({ cacheTemplates: true }), new AdminPaths('/ops')));
    app.use(() => {
      throw err;
    });
    return { app, logs };
  }

  test('an unknown error gets a 500 page without its message or stack, and is logged with the request', async () => {
    const { app, logs } = appThrowing(new Error('connection to db.internal failed: password hunter2'));
    const res = await request(app.callback()).get('/action?x=1').expect(500).expect('Content-Type', /text\/html/);
    assert.match(res.text, /<h1>Something went wrong<\/h1>/);
    assert.doesNotMatch(res.text, /hunter2|db\.internal/);
    assert.doesNotMatch(res.text, STACK_TRACE);
    const logged = JSON.parse(logs.text().trim()) as { msg: string; method: string; path: string; status: number; err: { message: string; stack: string } };
    assert.equal(logged.msg, 'request failed');
    assert.equal(logged.method, 'GET');
    assert.equal(logged.path, '/action');
    assert.equal(logged.status, 500);
    assert.match(logged.err.message, /hunter2/);
    assert.match(logged.err.stack, /at /);
  });

  test('a thrown non-Error is a 500 too', async () => {
    const { app } = appThrowing('just a string');
    await request(app.callback()).get('/').expect(500);
  });

  test('the health check and the dashboard\'s script paths get JSON errors, every other path a page', async () => {
    const { app } = appThrowing(new StoreUnavailableError('redis', 'The redis session store is not answering.'));
    const health = await request(app.callback()).get('/healthz').expect(503).expect('Content-Type', /application\/json/);
    assert.match(health.body.error, /redis session store is not answering/);
    // An error raised before the dashboard (the HTTPS check, say) on its API or event stream.
    for (const path of ['/ops/api', '/ops/api/stats', '/ops/events/stream']) {
      await request(app.callback()).get(path).expect(503).expect('Content-Type', /application\/json/);
    }
    for (const path of ['/action', '/ops', '/ops/login', '/admin/api/stats']) {
      await request(app.callback()).get(path).expect(503).expect('Content-Type', /text\/html/);
    }

    const crash = appThrowing(new Error('secret detail'));
    const res = await request(crash.app.callback()).get('/healthz').expect(500).expect('Content-Type', /application\/json/);
    assert.doesNotMatch(JSON.stringify(res.body), /secret detail/);
  });

  test('client errors keep their status and exposed message', async () => {
    const { app } = appThrowing(Object.assign(new Error('The id is malformed.'), { status: 422, expose: true }));
    const res = await request(app.callback()).get('/').expect(422);
    assert.match(res.text, /The id is malformed\./);
    const hidden = appThrowing(Object.assign(new Error('internal reason'), { status: 400, expose: false }));
    const res2 = await request(hidden.app.callback()).get('/').expect(400);
    assert.doesNotMatch(res2.text, /internal reason/);
    // A library's error with a status but no word on exposure (Koa's own rule): its message stays on the server.
    const unsaid = appThrowing(Object.assign(new Error('pool exhausted at 10.0.0.7'), { status: 429 }));
    const res3 = await request(unsaid.app.callback()).get('/').expect(429);
    assert.doesNotMatch(res3.text, /pool exhausted|10\.0\.0\.7/);
  });
});
