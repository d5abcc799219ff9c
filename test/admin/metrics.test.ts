import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import request from 'supertest';
import { securityHeaderValues } from '../../web/security-headers.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { unreachableStore } from '../helpers/failing-stores.ts';
import { seedSessions } from '../helpers/seeded-sessions.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { ADMIN_USER } from '../helpers/test-settings.ts';
import { cookieHeaderOf, textFileForm } from '../helpers/upload-forms.ts';

/** What prom-client's registry answers with: the Prometheus text format, version 0.0.4. */
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Prometheus's own check of the text format, `promtool check metrics` (Debian's `prometheus` package):
 * the parser Prometheus scrapes with, plus its lint (help texts, counter names). Answers what it reported.
 */
function promtoolCheck(text: string): Promise<{ status: number | null; report: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let report = '';
    child.stdout.on('data', (chunk) => (report += chunk));
    child.stderr.on('data', (chunk) => (report += chunk));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new Error('promtool is not installed: apt-get install --no-install-recommends prometheus') : err),
    );
    child.on('close', (status) => resolve({ status, report }));
    child.stdin.end(text);
  });
}

for (const kind of STORE_KINDS) {
  describe(`GET /admin/metrics (${kind} store)`, () => {
    let site: TestApp;
    before(async () => {
      site = await createTestApp(kind);
    });
    after(() => site.close());

    test('without credentials, or with wrong ones: 401 JSON with the Basic challenge, never a page', async () => {
      const bare = await request(site.app.callback()).get('/admin/metrics').expect(401).expect('Content-Type', /json/);
      assert.match(bare.headers['www-authenticate'] ?? '', /^Basic realm="sessionkeeper admin"/);
      assert.equal(typeof bare.body.error, 'string');
      assert.doesNotMatch(bare.text, /sessionkeeper_/);
      const wrong = await request(site.app.callback()).get('/admin/metrics').set('Authorization', basicAuth(ADMIN_USER, 'wrong password')).expect(401);
      assert.doesNotMatch(wrong.text, /sessionkeeper_/);
    });

    test('with HTTP Basic: the registry\'s text, with its content type, the dashboard\'s security headers and no caching', async () => {
      const res = await request(site.app.callback()).get('/admin/metrics').set('Authorization', basicAuth()).expect(200);
      assert.equal(res.headers['content-type'], PROMETHEUS_TEXT);
      assert.equal(res.headers['content-type'], site.sessions.metrics.registry.contentType);
      for (const [name, value] of Object.entries(securityHeaderValues({ production: false, strictTransportSecurity: false }))) {
        assert.equal(res.headers[name.toLowerCase()], value, name);
      }
      assert.equal(res.headers['cache-control'], 'no-store');
      for (const name of [
        'sessionkeeper_sessions_created_total', 'sessionkeeper_sessions_destroyed_total', 'sessionkeeper_sessions_expired_total',
        'sessionkeeper_sessions_evicted_total', 'sessionkeeper_sessions_regenerated_total', 'sessionkeeper_sessions_moved_total',
        'sessionkeeper_sessions_live', 'sessionkeeper_store_operation_duration_seconds', 'sessionkeeper_store_errors_total',
        'sessionkeeper_sweep_duration_seconds', 'sessionkeeper_events_dropped_total',
      ]) {
        assert.match(res.text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} is served, with a help text`);
      }
    });

    test('with the signed-in admin cookie: 200, the same text', async () => {
      const agent = site.agent();
      await site.signIn(agent);
      const res = await agent.get('/admin/metrics').expect(200);
      assert.equal(res.headers['content-type'], PROMETHEUS_TEXT);
      assert.match(res.text, /^# TYPE sessionkeeper_sessions_live gauge$/m);
    });

    test('after real traffic, the text passes promtool check metrics and shows the counts', async () => {
      // An app of its own: the live count of a scrape serves the next ones for 5 s.
      const site = await createTestApp(kind);
      try {
        const form = textFileForm('one line\n');
        const cookie = cookieHeaderOf(await request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body).expect(303));
        await request(site.app.callback()).get('/action').set('Cookie', cookie).expect(200);
        await seedSessions(site.store, { count: 2, expiresInMs: -60_000 });
        await site.sessions.sweeper.sweepNow();
        const { text } = await request(site.app.callback()).get('/admin/metrics').set('Authorization', basicAuth()).expect(200);

        assert.match(text, /^sessionkeeper_sessions_created_total 1$/m);
        assert.match(text, /^sessionkeeper_sessions_expired_total 2$/m);
        assert.match(text, /^sessionkeeper_sessions_live 1$/m);
        assert.match(text, /^sessionkeeper_store_operation_duration_seconds_count\{operation="create"\} 1$/m);
        assert.match(text, /^sessionkeeper_sweep_duration_seconds_count 1$/m);
        assert.deepEqual(await promtoolCheck(text), { status: 0, report: '' }, 'valid exposition format, no lint problem');
      } finally {
        await site.close();
      }
    });

    test('its errors are JSON, as for the API: a POST gets 405 JSON', async () => {
      const res = await request(site.app.callback()).post('/admin/metrics').set('Authorization', basicAuth()).expect(405).expect('Content-Type', /json/);
      assert.equal(typeof res.body.error, 'string');
    });
  });

  describe(`GET /admin/metrics while the ${kind} store does not answer`, () => {
    let site: TestApp;
    before(async () => {
      site = await createTestApp(kind, { store: unreachableStore(kind), storeTimeoutMs: 500 });
    });
    after(() => site.close());

    test('503 JSON within 5 seconds: credentials are checked against failure counts kept in the store', async () => {
      const startedMs = Date.now();
      const res = await request(site.app.callback()).get('/admin/metrics').set('Authorization', basicAuth()).expect(503).expect('Content-Type', /json/);
      assert.ok(Date.now() - startedMs < 5000);
      assert.match(res.body.error, new RegExp(`The ${kind} session store is not answering`));
    });
  });
}

describe('GET <prefix>/metrics under another prefix', () => {
  test('the metrics follow the dashboard\'s path', async () => {
    const site = await createTestApp('file', { admin: { path: '/ops/sessions' } });
    try {
      const res = await request(site.app.callback()).get('/ops/sessions/metrics').set('Authorization', basicAuth()).expect(200);
      assert.match(res.text, /^# TYPE sessionkeeper_sessions_created_total counter$/m);
      await request(site.app.callback()).get('/ops/sessions/metrics').expect(401).expect('Content-Type', /json/);
    } finally {
      await site.close();
    }
  });
});
