import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import { basicAuth, csrfTokenIn } from '../helpers/dashboard-client.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { lastHourStart } from '../../middleware/event-log/event-log.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { cookieHeaderOf, textFileForm } from '../helpers/upload-forms.ts';

/** The public ids of the session rows of a sessions page, in order. */
function listedIds(html: string): string[] {
  return [...html.matchAll(/<tr data-session-id="([^"]+)">/g)].map((match) => match[1]!);
}

/** The href of the "Next page" link, entities decoded. */
function nextPageLink(html: string): string | undefined {
  return /<a class="button" href="([^"]+)">Next page<\/a>/.exec(html)?.[1]?.replaceAll('&amp;', '&');
}

/** The text of the result notice after an action. */
function resultNotice(html: string): string | undefined {
  return /<p class="notice notice-done" role="status">([^<]*)<\/p>/.exec(html)?.[1];
}

for (const kind of STORE_KINDS) {
  describe(`dashboard pages (${kind} store)`, () => {
    let site: TestApp;
    let agent: ReturnType<TestApp['agent']>;
    let csrf: string;
    let events: LifecycleEvent[];

    before(async () => {
      site = await createTestApp(kind);
      agent = site.agent();
      csrf = await site.signIn(agent);
      site.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
    });
    beforeEach(async () => {
      await site.store.destroyAll();
      events = [];
    });
    after(() => site.close());

    test('totals: live sessions, created and expired in the last hour, the store, where it lives, its health, and the next expiry', async () => {
      const live = await seedSessions(site.store, { count: 3, expiresInMs: 90_000 });
      await seedSessions(site.store, { count: 2, expiresInMs: -60_000 });
      const upload = textFileForm('a line');
      const visitor = await request(site.app.callback()).post('/').set('Content-Type', upload.contentType).send(upload.body).expect(303);
      await site.sessions.events.flushed();
      const createdBefore = (await site.sessions.eventLog.countSince(lastHourStart(Date.now())))['session.created'] ?? 0;
      assert.ok(createdBefore >= 1, 'the visitor created a session');
      assert.ok(cookieHeaderOf(visitor));

      const page = await agent.get('/admin').expect(200).expect('Content-Type', /html/);
      assert.match(page.text, /<span class="total-value">4<\/span>\s*<span class="total-label">live sessions<\/span>/);
      assert.match(page.text, new RegExp(`<span class="total-value">${createdBefore}</span>\\s*<span class="total-label">created in the last hour`));
      assert.match(page.text, new RegExp(`<span class="total-value">${kind} <span class="health health-ok">answering</span>`));
      assert.ok(page.text.includes(site.store.location.replaceAll('&', '&amp;')), 'shows where the store lives');
      assert.doesNotMatch(page.text, /postgres:\/\/[^"<]*@/, 'no connection string with credentials');
      // The seeded session with the nearest expiry (90 s) expires before the visitor's (30 min).
      assert.match(page.text, new RegExp(`<span class="total-value">in 1m \\d+s</span>\\s*<span class="total-label">next expiry: <code title="${live[0]}">`));
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.match(page.headers['content-security-policy'] ?? '', /script-src 'self'/, 'the site\'s security headers');
      assert.doesNotMatch(page.text, /<script>|style="/, 'no inline script or style (the CSP forbids them)');
      assert.match(page.text, /<script src="\/admin\/static\/admin.js" defer><\/script>/, 'the dashboard\'s own assets, under its prefix');
    });

    test('each row shows id, created, last seen, expiry with time left, size and key names, never values; everything escaped', async () => {
      const [id] = await seedSessions(site.store, {
        count: 1,
        expiresInMs: 10 * 60_000,
        data: { upload: { lines: ['TOP-SECRET-VALUE'] }, '<script>alert(1)</script>': 'x', 'a"b': 1 },
      });
      const record = (await site.store.get(id!, Date.now()))!;
      const page = await agent.get('/admin').expect(200);
      const row = new RegExp(`<tr data-session-id="${id}">([\\s\\S]*?)</tr>`).exec(page.text)?.[1] ?? '';
      assert.match(row, new RegExp(`<code class="session-id" title="${id}">${id!.slice(0, 12)}…</code>`));
      assert.match(row, new RegExp(`<time datetime="${new Date(record.createdAt).toISOString()}">`));
      assert.match(row, new RegExp(`<time datetime="${new Date(record.lastSeenAt).toISOString()}"`));
      assert.match(row, /<span class="time-left">in (9m \d+s|10m)<\/span>/);
      assert.match(row, new RegExp(`datetime="${new Date(record.expiresAt).toISOString()}"`));
      assert.match(row, /<td class="number">\d+ bytes<\/td>/);
      assert.match(row, /<code class="key">upload<\/code>/);
      assert.match(row, /<code class="key">&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/code>/);
      assert.match(row, /<code class="key">a&#34;b<\/code>/);
      assert.doesNotMatch(page.text, /TOP-SECRET-VALUE/);
      assert.doesNotMatch(page.text, /<script>alert/);
    });

    test('pages through more sessions than one page, by activity and by expiry, without repeats or gaps', async () => {
      const ids = await seedSessions(site.store, { count: 11 });
      const expected = { activity: [...ids].reverse(), expiry: ids };
      for (const sort of ['activity', 'expiry'] as const) {
        const seen: string[] = [];
        let link: string | undefined = `/admin?sort=${sort}&limit=4`;
        let pages = 0;
        while (link) {
          const page = await agent.get(link).expect(200);
          const rows = listedIds(page.text);
          assert.ok(rows.length <= 4);
          seen.push(...rows);
          link = nextPageLink(page.text);
          if (pages++ > 0) assert.match(page.text, /First page/);
        }
        assert.equal(pages, 3, sort);
        assert.deepEqual(seen, expected[sort], `${sort}: every session once, in order`);
      }
    });

    test('malformed limit, sort or cursor get a 400 page, never a 500', async () => {
      for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'limit=-5', 'limit=2.5', 'sort=size', 'sort=', 'cursor=%%%', 'cursor=abc', 'limit=5&limit=6']) {
        const res = await agent.get(`/admin?${query}`);
        if (query === 'sort=') {
          assert.equal(res.status, 200, 'an empty value counts as absent');
          continue;
        }
        assert.equal(res.status, 400, query);
        assert.match(res.text, /<p class="status-code">400<\/p>/, query);
      }
    });

    test('ending one session removes it, says so, and logs session.destroyed by admin; the same id again is 404', async () => {
      const [target, other] = await seedSessions(site.store, { count: 2 });
      const ended = await agent.post(`/admin/sessions/${target}/end`).type('form').send({ csrf }).expect(303);
      assert.equal(ended.headers.location, `/admin?done=ended&sid=${target}`);
      assert.equal(resultNotice((await agent.get(ended.headers.location!).expect(200)).text), `Ended session ${target!.slice(0, 12)}….`);
      assert.deepEqual(await idsStillStored(site.store, [target!, other!]), [other]);
      assert.deepEqual(events.map(({ event, sid, by }) => ({ event, sid, by })), [{ event: 'session.destroyed', sid: target, by: 'admin' }]);

      const again = await agent.post(`/admin/sessions/${target}/end`).type('form').send({ csrf }).expect(404);
      assert.match(again.text, /has expired or was already ended/);
      for (const bad of ['short', 'x'.repeat(44), '..%2F..%2Fetc%2Fpasswd', `${other}%00`]) {
        await agent.post(`/admin/sessions/${bad}/end`).type('form').send({ csrf }).expect(400);
      }
      assert.deepEqual(await idsStillStored(site.store, [other!]), [other]);
    });

    test('purge expired removes only expired sessions, logs each and the purge, and reports the count', async () => {
      const live = await seedSessions(site.store, { count: 3 });
      const expired = await seedSessions(site.store, { count: 4, expiresInMs: -120_000 });
      const res = await agent.post('/admin/purge-expired').type('form').send({ csrf }).expect(303);
      assert.equal(res.headers.location, '/admin?done=purged-expired&removed=4');
      const page = await agent.get(res.headers.location!).expect(200);
      assert.equal(resultNotice(page.text), 'Purged expired sessions: 4 sessions removed.');
      assert.deepEqual(await idsStillStored(site.store, [...live, ...expired]), live);
      assert.deepEqual(events.filter((e) => e.event === 'session.expired').map((e) => e.sid).sort(), [...expired].sort());
      const purged = events.find((e) => e.event === 'sessions.purged');
      assert.deepEqual({ count: purged?.count, scope: purged?.scope, by: purged?.by }, { count: 4, scope: 'expired', by: 'admin' });
      assert.match(page.text, /<span class="event-name">sessions.purged<\/span>/);
    });

    test('end every session asks for confirmation, then removes every session, live or expired, and reports the count', async () => {
      const seeded = [...(await seedSessions(site.store, { count: 5 })), ...(await seedSessions(site.store, { count: 1, expiresInMs: -1000 }))];
      const confirm = await agent.get('/admin/end-all').expect(200);
      assert.match(confirm.text, /End every session\?/);
      assert.match(confirm.text, /all 5 live sessions/);
      assert.match(confirm.text, /<form method="post" action="\/admin\/end-all">/);
      assert.equal(csrfTokenIn(confirm.text), csrf);
      assert.match(confirm.text, /<a class="button quiet" href="\/admin">Cancel<\/a>/);
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded, 'the confirmation page removes nothing');

      const res = await agent.post('/admin/end-all').type('form').send({ csrf }).expect(303);
      assert.equal(res.headers.location, '/admin?done=ended-all&removed=6');
      const page = await agent.get(res.headers.location!).expect(200);
      assert.equal(resultNotice(page.text), 'Ended every session: 6 sessions removed.');
      assert.match(page.text, /No live sessions right now/);
      assert.deepEqual(await idsStillStored(site.store, seeded), []);
      assert.deepEqual(events.map(({ event, count, scope, by }) => ({ event, count, scope, by })), [{ event: 'sessions.purged', count: 6, scope: 'all', by: 'admin' }]);
    });

    test('the result notice shows only what the dashboard itself wrote', async () => {
      for (const query of ['done=ended-all&removed=abc', 'done=<script>&removed=1', 'done=ended&sid=<b>x</b>', 'removed=3']) {
        const page = await agent.get(`/admin?${query}`).expect(200);
        assert.equal(resultNotice(page.text), undefined, query);
        assert.doesNotMatch(page.text, /<script>|<b>x/);
      }
    });

    test('the event feed lists the latest events newest first, with time and public id', async () => {
      const ids = await seedSessions(site.store, { count: 3 });
      for (const id of ids) await agent.post(`/admin/sessions/${id}/end`).type('form').send({ csrf }).expect(303);
      const page = await agent.get('/admin').expect(200);
      const feed = /<ol class="event-feed"[^>]*>([\s\S]*?)<\/ol>/.exec(page.text)?.[1] ?? '';
      const shown = [...feed.matchAll(/<time datetime="([^"]+)">[^<]+<\/time>\s*<span class="event-name">([^<]+)<\/span>\s*<code class="event-sid" title="([^"]*)">/g)]
        .map((match) => ({ at: match[1], event: match[2], sid: match[3] }));
      assert.deepEqual(shown.slice(0, 3).map((e) => e.sid), [...ids].reverse());
      assert.ok(shown.slice(0, 3).every((e) => e.event === 'session.destroyed' && !Number.isNaN(Date.parse(e.at!))));
    });

    test('when an operator ends a visitor\'s session, the visitor\'s next request finds no data', async () => {
      const upload = textFileForm('first line\nsecond line');
      const visitor = await request(site.app.callback()).post('/').set('Content-Type', upload.contentType).send(upload.body).expect(303);
      const cookie = cookieHeaderOf(visitor);
      assert.match((await request(site.app.callback()).get('/action').set('Cookie', cookie).expect(200)).text, /second line/);
      const sid = publicIdOf(/sid=([^;]+)/.exec(cookie)![1]!);
      const page = await agent.get('/admin').expect(200);
      assert.ok(listedIds(page.text).includes(sid), 'the operator sees the visitor\'s session');

      await agent.post(`/admin/sessions/${sid}/end`).type('form').send({ csrf }).expect(303);
      const after = await request(site.app.callback()).get('/action').set('Cookie', cookie).expect(200);
      assert.doesNotMatch(after.text, /second line/);
      assert.match(after.text, /Nothing uploaded yet/);
    });

    test('the event streams send each new event to every signed-in client, and go on for those still connected', async () => {
      const server = http.createServer(site.app.callback()).listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const openStream = async () => {
        const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path: '/admin/events/stream', headers: { Authorization: basicAuth() } }, resolve).on('error', reject);
        });
        assert.equal(response.statusCode, 200);
        assert.match(response.headers['content-type'] ?? '', /^text\/event-stream/);
        response.setEncoding('utf8');
        const stream = { response, received: '' };
        response.on('data', (chunk: string) => (stream.received += chunk));
        await waitFor(() => stream.received.includes('retry:'));
        return stream;
      };
      const endByApi = async () => {
        const [id] = await seedSessions(site.store, { count: 1 });
        await request(site.app.callback()).delete(`/admin/api/sessions/${id}`).set('Authorization', basicAuth()).expect(200);
        return id!;
      };
      try {
        const streams = [await openStream(), await openStream()];
        const id = await endByApi();
        for (const stream of streams) {
          await waitFor(() => stream.received.includes('event: lifecycle'));
          const data = JSON.parse(/event: lifecycle\ndata: (.*)\n\n/.exec(stream.received)![1]!);
          assert.equal(data.event, 'session.destroyed');
          assert.equal(data.sid, id);
          assert.equal(data.by, 'admin');
          assert.equal(data.display.sid, `${id.slice(0, 12)}…`);
        }

        streams[0]!.response.destroy();
        const later = await endByApi();
        await waitFor(() => streams[1]!.received.includes(later));
        streams[1]!.response.destroy();
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
