/**
 * `sessionkeeper dashboard` on every store: the dashboard served on its own
 * at ADMIN_PATH, `/` redirecting there, pages and API refused without
 * credentials, the API answering with Basic, the sweeper running, and
 * SIGTERM stopping it with exit status 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionStore } from '../../middleware/store.ts';
import request from 'supertest';
import { basicAuth, signIn } from '../helpers/dashboard-client.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { createNamespace, STORE_KINDS, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { testServerEnv } from '../helpers/test-settings.ts';
import { waitUntil } from '../helpers/wait.ts';
import { jsonLines, startCli } from './cli-process.ts';

for (const kind of STORE_KINDS) {
  describe(`sessionkeeper dashboard on the ${kind} store`, () => {
    let namespace: StoreNamespace;
    let store: SessionStore;

    before(async () => {
      namespace = await createNamespace(kind);
      store = namespace.open();
      await store.init();
    });
    after(async () => {
      await store.close();
      await namespace.remove();
    });

    test('serves the dashboard at ADMIN_PATH behind its credentials, sweeps, and stops on SIGTERM', async () => {
      const live = await seedSessions(store, { count: 2 });
      const expired = await seedSessions(store, { count: 1, expiresInMs: -60_000 });
      const dashboard = startCli(['dashboard'], testServerEnv(namespace, { PORT: '0', ADMIN_PATH: '/ops', SESSION_SWEEP_INTERVAL: '1s' }));
      let status: number | null;
      try {
        const [, base] = await dashboard.waitFor('stdout', /^dashboard listening on (http:\/\/127\.0\.0\.1:\d+)\/ops \(sessions in the \w+ store at [^)]+\)\n$/);
        const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers, redirect: 'manual' });

        const root = await get('/');
        assert.equal(root.status, 302);
        assert.equal(root.headers.get('location'), '/ops');
        const page = await get('/ops');
        assert.equal(page.status, 303, 'the page sends an operator who is not signed in to the login form');
        assert.equal(page.headers.get('location'), '/ops/login');
        // An operator signs in through the form, as in an app that mounts the dashboard.
        const operator = request.agent(base!);
        await signIn(operator, { path: '/ops' });
        assert.match((await operator.get('/ops').expect(200)).text, /live sessions/);
        assert.equal((await get('/ops/api/sessions')).status, 401);
        assert.equal((await get('/ops/api/sessions', { authorization: basicAuth('operator', 'not the password') })).status, 401);

        const api = await get('/ops/api/sessions', { authorization: basicAuth() });
        assert.equal(api.status, 200);
        const { sessions } = (await api.json()) as { sessions: { id: string }[] };
        assert.deepEqual(sessions.map((session) => session.id).sort(), [...live].sort());
        await waitUntil('the sweeper removes the expired session', async () => (await idsStillStored(store, expired)).length === 0, 5_000, 100);
      } finally {
        status = await dashboard.stop('SIGTERM');
      }
      assert.equal(status, 0, dashboard.stderr());
      // At LOG_LEVEL warn, the security events only (no warning about SESSION_KEYS: it is set).
      assert.deepEqual(jsonLines<{ msg: string }>(dashboard.stderr()).map((line) => line.msg), ['admin.signed_in', 'admin.sign_in_failed']);
    });
  });
}

describe('sessionkeeper dashboard in production', () => {
  test('behind its TLS proxy it serves; a request that bypassed the proxy is refused with 403 and the reason, not a 500', async () => {
    const namespace = await createNamespace('file');
    const dashboard = startCli(
      ['dashboard'],
      testServerEnv(namespace, { PORT: '0', NODE_ENV: 'production', TRUST_PROXY: 'true', SESSION_KEYS: 'a-production-key-of-32-characters-0123' }),
    );
    let status: number | null;
    try {
      const [, base] = await dashboard.waitFor('stdout', /^dashboard listening on (http:\/\/127\.0\.0\.1:\d+)\/admin /);
      const viaProxy = await fetch(`${base}/admin/login`, { headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(viaProxy.status, 200);
      assert.match(viaProxy.headers.get('set-cookie') ?? '', /; secure/i, 'its cookies are Secure');
      const bypassed = await fetch(`${base}/admin/login`);
      assert.equal(bypassed.status, 403);
      assert.match(await bypassed.text(), /HTTPS/);
    } finally {
      status = await dashboard.stop('SIGTERM');
      await namespace.remove();
    }
    assert.equal(status, 0, dashboard.stderr());
    assert.match(dashboard.stderr(), /refused with 403: serve the site over HTTPS/, 'the operator is told once');
  });
});
