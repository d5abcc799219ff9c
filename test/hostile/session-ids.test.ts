/**
 * Attacks on the session id itself (OWASP Session Management Cheat Sheet,
 * ASVS V3.1-V3.4): ids offered in the URL, fixation with an id the attacker
 * chose (even correctly signed), ids leaking into pages, the API or the logs,
 * and cookies over plain HTTP in production.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { TEST_KEYS } from '../helpers/test-settings.ts';
import { textFileForm } from '../helpers/upload-forms.ts';
import { Visitor } from '../helpers/visitor.ts';

function signedSid(value: string, name = 'sid'): string {
  return `${name}=${value}; ${name}.sig=${createHmac('sha1', TEST_KEYS[0]!).update(`${name}=${value}`).digest('base64url')}`;
}

describe('attacks on the session id', () => {
  let site: ListeningTestApp;
  before(async () => {
    site = await createTestApp('file', { listen: true });
  });
  after(() => site?.close());

  test('an id offered in the URL is never taken as a session (only the signed cookie counts)', async () => {
    const victim = new Visitor(site.url);
    assert.equal(await victim.upload('the victim\'s upload\n', 'v.txt'), 303);
    const rawId = victim.rawSessionId!;
    const signature = /sid\.sig=([^;]+)/.exec(victim.cookieHeader)![1];
    for (const path of [`/action?sid=${rawId}`, `/action?sid=${rawId}&sid.sig=${signature}`, `/action;sid=${rawId}`, `/action?session=${rawId}`]) {
      const res = await fetch(`${site.url}${path}`);
      const body = await res.text();
      assert.ok(res.status === 200 || res.status === 404, path);
      assert.doesNotMatch(body, /the victim/, `${path} shows nothing of the session`);
    }
  });

  test('fixation: an id the attacker chose, even correctly signed, is never adopted; the visitor gets a fresh one', async () => {
    for (const chosen of [newSessionId(), 'A'.repeat(43), 'short', 'x'.repeat(200)]) {
      const form = textFileForm('uploaded under a planted cookie\n');
      const res = await fetch(`${site.url}/`, {
        method: 'POST',
        headers: { Cookie: signedSid(chosen), 'Content-Type': form.contentType },
        body: new Uint8Array(form.body),
        redirect: 'manual',
      });
      assert.equal(res.status, 303);
      const issued = /^sid=([^;]+)/.exec(res.headers.getSetCookie().find((c) => c.startsWith('sid=')) ?? '')?.[1];
      assert.ok(issued, 'a session cookie was issued');
      assert.notEqual(issued, chosen, 'not the planted id');
      assert.equal(await site.sessions.store.get(publicIdOf(chosen), 0), undefined, 'nothing stored under the planted id');
    }
  });

  test('the raw id never appears in a page, an API answer, the event feed or a log line; only in Set-Cookie', async () => {
    const visitor = new Visitor(site.url);
    assert.equal(await visitor.upload('find my id\n', 'f.txt'), 303);
    const rawId = visitor.rawSessionId!;
    const admin = { headers: { Authorization: basicAuth() } };
    const answers = await Promise.all([
      visitor.request('/'),
      visitor.request('/action'),
      visitor.request('/nowhere'),
      visitor.request('/healthz'),
      visitor.request('/admin/api/sessions', admin),
      visitor.request('/admin/api/events', admin),
      visitor.request('/admin/api/stats', admin),
    ]);
    for (const res of answers) {
      const headers = [...res.headers].filter(([name]) => name !== 'set-cookie').map(([name, value]) => `${name}: ${value}`).join('\n');
      assert.ok(!(await res.text()).includes(rawId) && !headers.includes(rawId), res.url);
    }
    assert.equal(await visitor.forget(), 303);
    assert.ok(!JSON.stringify(site.logs.lines()).includes(rawId), 'not in the logs');
    assert.ok(JSON.stringify(site.logs.lines()).includes(publicIdOf(rawId)), 'the logs name the session by its public id');
  });
});

describe('production cookies', () => {
  let site: ListeningTestApp;
  before(async () => {
    site = await createTestApp('file', { sessions: { production: true, cookieName: '__Host-sid' }, server: { trustProxy: true }, listen: true });
  });
  after(() => site?.close());

  const upload = (headers: Record<string, string>) => {
    const form = textFileForm('production\n');
    return fetch(`${site.url}/`, { method: 'POST', headers: { ...headers, 'Content-Type': form.contentType }, body: new Uint8Array(form.body), redirect: 'manual' });
  };

  test('over HTTPS: Secure, HttpOnly, SameSite=Lax, host-only, Path=/ (so the __Host- prefix works)', async () => {
    const res = await upload({ 'X-Forwarded-Proto': 'https' });
    assert.equal(res.status, 303);
    const cookies = res.headers.getSetCookie();
    assert.equal(cookies.length, 2);
    for (const cookie of cookies) {
      assert.match(cookie, /^__Host-sid(\.sig)?=/);
      assert.match(cookie, /; path=\/;/);
      assert.match(cookie, /; samesite=lax/);
      assert.match(cookie, /; secure/);
      assert.match(cookie, /; httponly/);
      assert.doesNotMatch(cookie, /domain=/i);
    }
  });

  test('over plain HTTP (the TLS proxy bypassed): 403 saying why, never a 500, nothing stored; probes still answer', async () => {
    const countBefore = await site.sessions.store.count(Date.now());
    for (const res of [await upload({}), await fetch(`${site.url}/action`), await fetch(`${site.url}/admin/login`), await fetch(`${site.url}/admin/api/stats`)]) {
      assert.equal(res.status, 403, res.url);
      assert.match(await res.text(), /HTTPS/);
      assert.deepEqual(res.headers.getSetCookie(), []);
    }
    assert.equal(await site.sessions.store.count(Date.now()), countBefore, 'no session written');
    assert.equal((await fetch(`${site.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${site.url}/static/style.css`)).status, 200);
    const warnings = site.logs.lines().filter((line) => /plain HTTP/.test(String(line.msg)));
    assert.equal(warnings.length, 1, 'the operator is told once');
    assert.equal(site.logs.lines().filter((line) => (line.level as number) >= 50).length, 0, 'no error logged');
  });
});
