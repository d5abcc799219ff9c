/**
 * The operator's side of owners, on every store: the owner column and the owner filter of the sessions
 * page, ending every session of one owner through its confirmation page (CSRF-checked), and the JSON API's
 * `?owner=` list and `DELETE /admin/api/owners/:owner/sessions`. Owners that are awkward in a URL or in
 * HTML (unicode, 512 characters, `%`, `/`, quotes, `<script>`) go the whole way round; owners that cannot
 * be one get 400 and end nothing. Visitors signed in through the site (`POST /name`) are signed out.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { shortOwner } from '../../admin/format.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { cookieHeaderOf } from '../helpers/upload-forms.ts';

/** Owners that are awkward somewhere between a store, a URL path, a query string and an HTML page. */
const AWKWARD_OWNERS = [
  'ünïcødé 用户 🦀',
  `${'é'.repeat(256)}${'🦀'.repeat(128)}`, // 512 UTF-16 units: the longest owner there is
  'tenant:42*{}',
  '100%',
  '%E0', // looks like an escape, and a malformed one
  `O'Brien "quoted"`,
  'a/b/../c',
  '<script>alert(1)</script>',
  '  spaced + plus & amp=  ',
];

/** The text as EJS escapes it in a page. */
function html(text: string): string {
  const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
  return text.replace(/[&<>"']/g, (char) => entities[char]!);
}

/** An attribute value of a page, entities decoded. */
function unescaped(text: string): string {
  return text.replaceAll('&#34;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

/** The public ids of the session rows of a sessions page, in order. */
function listedIds(page: string): string[] {
  return [...page.matchAll(/<tr data-session-id="([^"]+)">/g)].map((match) => match[1]!);
}

/** The owner cell of one session's row. */
function ownerCell(page: string, id: string): string | undefined {
  return new RegExp(`<tr data-session-id="${id}">[\\s\\S]*?(<td class="owner">[\\s\\S]*?</td>)`).exec(page)?.[1];
}

/** The address of the "End every session of this owner" button, decoded. */
function endOwnerLink(page: string): string | undefined {
  const href = /<a class="button small danger" href="([^"]+)">End every session of this owner…<\/a>/.exec(page)?.[1];
  return href && unescaped(href);
}

/** The text of the result notice after an action. */
function resultNotice(page: string): string | undefined {
  return /<p class="notice notice-done" role="status">([^<]*)<\/p>/.exec(page)?.[1];
}

/**
 * Stores one session per entry of `owners` (none for undefined) as the middleware would, each used a second
 * after the one before and expiring a second later; returns their public ids in that order.
 */
function createSessions(store: SessionStore, owners: (string | undefined)[], { expiresInMs = 30 * 60_000, device = false } = {}): Promise<string[]> {
  return seedSessions(store, { count: owners.length, owners, expiresInMs, device, data: { cart: 'VALUE', theme: 'dark' } });
}

for (const kind of STORE_KINDS) {
  describe(`owners on the dashboard and its API (${kind} store)`, () => {
    let site: TestApp;
    let agent: ReturnType<TestApp['agent']>;
    let csrf: string;
    let events: LifecycleEvent[];
    const api = () => {
      const client = request(site.app.callback());
      return {
        get: (path: string) => client.get(path).set('Authorization', basicAuth()),
        delete: (path: string) => client.delete(path).set('Authorization', basicAuth()),
      };
    };
    const destroyed = () => events.filter((event) => event.event === 'session.destroyed').map(({ sid, by, owner }) => ({ sid, by, owner }));

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

    test('GET /admin/api/sessions?owner=: only that owner\'s live sessions, in both sorts and across pages; owner (and device) on every list', async () => {
      const alice = await createSessions(site.store, ['alice', 'alice', 'alice', 'alice', 'alice'], { device: true });
      const others = await createSessions(site.store, ['bob', 'Alice', 'alice2', undefined]);
      await createSessions(site.store, ['alice'], { expiresInMs: -60_000 });

      for (const sort of ['activity', 'expiry'] as const) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const query: string = `owner=alice&sort=${sort}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
          const page = await api().get(`/admin/api/sessions?${query}`).expect(200);
          assert.ok(page.body.sessions.every((session: { owner: string }) => session.owner === 'alice'));
          seen.push(...page.body.sessions.map((session: { id: string }) => session.id));
          cursor = page.body.nextCursor;
          pages++;
        } while (cursor);
        assert.ok(pages >= 3, `${sort}: paged`);
        assert.deepEqual(seen, sort === 'activity' ? [...alice].reverse() : alice, `${sort}: every live session of alice once, in order`);
      }

      const [newest] = (await api().get('/admin/api/sessions?owner=alice&limit=1').expect(200)).body.sessions;
      const record = (await site.store.get(alice[4]!, Date.now()))!;
      assert.deepEqual(newest, {
        id: alice[4],
        createdAt: new Date(record.createdAt).toISOString(),
        lastSeenAt: new Date(record.lastSeenAt).toISOString(),
        expiresAt: new Date(record.expiresAt).toISOString(),
        sizeBytes: Buffer.byteLength(JSON.stringify(record.data)),
        keys: ['cart', 'theme'],
        owner: 'alice',
        device: { userAgent: 'Browser/4', address: '192.0.2.4' },
      });

      // The plain list carries the owner of each owned session, and nothing for the others.
      const all = (await api().get('/admin/api/sessions?limit=1000').expect(200)).body.sessions as { id: string; owner?: string }[];
      const ownerOf = new Map(all.map((session) => [session.id, session]));
      assert.deepEqual([...others, ...alice].map((id) => ownerOf.get(id)?.owner), ['bob', 'Alice', 'alice2', undefined, ...alice.map(() => 'alice')]);
      assert.ok(!('owner' in ownerOf.get(others[3]!)!), 'no owner key on a session without one');
      assert.deepEqual((await api().get('/admin/api/sessions?owner=nobody').expect(200)).body, { sessions: [], nextCursor: null });
    });

    test('DELETE /admin/api/owners/:owner/sessions: { removed: n }, exactly that owner\'s live sessions, each logged by admin with the owner', async () => {
      const alice = await createSessions(site.store, ['alice', 'alice', 'alice']);
      const others = await createSessions(site.store, ['bob', 'Alice', 'alice ', undefined]);
      const res = await api().delete('/admin/api/owners/alice/sessions').expect(200).expect('Content-Type', /json/);
      assert.deepEqual(res.body, { removed: 3 });
      assert.deepEqual(await idsStillStored(site.store, [...alice, ...others]), others);
      assert.deepEqual(
        destroyed().sort((a, b) => a.sid!.localeCompare(b.sid!)),
        alice.map((sid) => ({ sid, by: 'admin', owner: 'alice' })).sort((a, b) => a.sid.localeCompare(b.sid)),
      );
      // In the shared log by the time it answers: the feed and `sessionkeeper events` show them.
      const logged = (await api().get('/admin/api/events?limit=10').expect(200)).body.events as LifecycleEvent[];
      assert.deepEqual(new Set(logged.filter((e) => e.event === 'session.destroyed').map((e) => `${e.sid} ${e.by} ${e.owner}`)), new Set(alice.map((sid) => `${sid} admin alice`)));

      assert.deepEqual((await api().delete('/admin/api/owners/alice/sessions').expect(200)).body, { removed: 0 });
    });

    test('awkward owners round-trip through the API: the list by query string, the end by path segment', async () => {
      const bystanders = await createSessions(site.store, ['bystander', undefined]);
      for (const owner of AWKWARD_OWNERS) {
        const ids = await createSessions(site.store, [owner, owner]);
        const listed = await api().get(`/admin/api/sessions?owner=${encodeURIComponent(owner)}`).expect(200);
        assert.deepEqual(listed.body.sessions.map((s: { id: string; owner: string }) => [s.id, s.owner]), [[ids[1], owner], [ids[0], owner]], owner);
        const ended = await api().delete(`/admin/api/owners/${encodeURIComponent(owner)}/sessions`).expect(200);
        assert.deepEqual(ended.body, { removed: 2 }, owner);
        assert.deepEqual(await idsStillStored(site.store, ids), [], owner);
      }
      assert.deepEqual(await idsStillStored(site.store, bystanders), bystanders);
      assert.ok(destroyed().every((event) => event.by === 'admin' && AWKWARD_OWNERS.includes(event.owner!)));
      assert.equal(destroyed().length, 2 * AWKWARD_OWNERS.length);
    });

    test('owners that cannot be one get 400 JSON in the API\'s error shape, and nothing is ended', async () => {
      const seeded = await createSessions(site.store, ['alice', 'x'.repeat(512), undefined]);
      const badDeletes = [
        '/admin/api/owners//sessions', // empty
        `/admin/api/owners/${'x'.repeat(513)}/sessions`,
        '/admin/api/owners/%00/sessions',
        '/admin/api/owners/alice%00/sessions',
        '/admin/api/owners/%E0/sessions', // not UTF-8: never taken as the owner "%E0"
        '/admin/api/owners/%ED%A0%80/sessions', // a lone surrogate, as WTF-8
      ];
      for (const path of badDeletes) {
        const res = await api().delete(path);
        assert.equal(res.status, 400, path);
        assert.deepEqual(Object.keys(res.body), ['error'], path);
      }
      const badLists = ['owner=', `owner=${'x'.repeat(513)}`, 'owner=%00', 'owner=%E0', 'owner=%ED%A0%80', 'owner=ada%FF', 'owner=alice&owner=bob'];
      for (const query of badLists) {
        const res = await api().get(`/admin/api/sessions?${query}`);
        assert.equal(res.status, 400, query);
        assert.deepEqual(Object.keys(res.body), ['error'], query);
      }
      assert.match((await api().delete('/admin/api/owners//sessions')).body.error, /must not be empty/);
      assert.match((await api().delete(`/admin/api/owners/${'x'.repeat(513)}/sessions`)).body.error, /at most 512 characters/);
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded);
      assert.deepEqual(destroyed(), []);
    });

    test('the owner API is guarded like the rest: Basic or the admin cookie with its CSRF header, same origin only', async () => {
      const seeded = await createSessions(site.store, ['alice', 'alice']);
      const path = '/admin/api/owners/alice/sessions';
      const anonymous = request(site.app.callback());
      await anonymous.delete(path).expect(401);
      await anonymous.get('/admin/api/sessions?owner=alice').expect(401);
      await anonymous.delete(path).set('Authorization', basicAuth('operator', 'wrong password')).expect(401);
      await agent.delete(path).expect(403); // signed in by cookie, but no CSRF header
      await agent.delete(path).set('X-CSRF-Token', 'x'.repeat(43)).expect(403);
      await api().delete(path).set('Origin', 'https://evil.example').expect(403);
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded);
      assert.deepEqual(destroyed(), []);

      assert.deepEqual((await agent.delete(path).set('X-CSRF-Token', csrf).expect(200)).body, { removed: 2 });
    });

    test('the sessions page shows each session\'s owner, escaped, and — for a session without one', async () => {
      const [scripted, long, plain] = await createSessions(site.store, ['<script>alert(1)</script>', 'é'.repeat(512), undefined]);
      const page = (await agent.get('/admin').expect(200)).text;
      assert.match(page, /<th scope="col">Owner<\/th>/);
      const scriptedHref = `/admin?${new URLSearchParams({ owner: '<script>alert(1)</script>' })}`;
      assert.equal(ownerCell(page, scripted!), `<td class="owner"><a href="${scriptedHref}" title="&lt;script&gt;alert(1)&lt;/script&gt;">&lt;script&gt;alert(1)&lt;/script&gt;</a></td>`);
      // A long owner is cut short in the cell, whole in its title.
      assert.deepEqual(ownerCell(page, long!)?.match(/title="([^"]*)">([^<]*)</)?.slice(1), ['é'.repeat(512), `${'é'.repeat(40)}…`]);
      assert.equal(ownerCell(page, plain!), '<td class="owner"><span class="meta" title="no owner">—</span></td>');
      assert.doesNotMatch(page, /<script>alert/);
      assert.match(page, /<form class="owner-filter" method="get" action="\/admin" role="search">/);
      assert.equal(endOwnerLink(page), undefined, 'no end-by-owner button without a filter');
    });

    test('the owner filter lists exactly that owner\'s sessions, pages through them keeping the filter, and offers to end them', async () => {
      const alice = await createSessions(site.store, ['alice', 'alice', 'alice', 'alice', 'alice']);
      await createSessions(site.store, ['bob', 'Alice', undefined]);
      const seen: string[] = [];
      let link: string | undefined = '/admin?owner=alice&sort=expiry&limit=2';
      let pages = 0;
      while (link) {
        const page: string = (await agent.get(link).expect(200)).text;
        assert.match(page, /<h1>Live sessions of <span class="owner-name" title="alice">alice<\/span><\/h1>/);
        assert.match(page, /<input id="owner-filter" name="owner" value="alice"/);
        assert.equal(endOwnerLink(page), '/admin/end-owner?owner=alice');
        seen.push(...listedIds(page));
        link = /<a class="button" href="([^"]+)">Next page<\/a>/.exec(page)?.[1]?.replaceAll('&amp;', '&');
        if (link) assert.match(link, /^\/admin\?owner=alice&sort=expiry&limit=2&cursor=/);
        pages++;
      }
      assert.equal(pages, 3);
      assert.deepEqual(seen, alice);

      const byActivity = (await agent.get('/admin?owner=alice').expect(200)).text;
      assert.deepEqual(listedIds(byActivity), [...alice].reverse());
      assert.match(byActivity, /<a href="\/admin\?owner=alice&amp;sort=expiry">expiry<\/a>/, 'the sort links keep the filter');
      assert.match(byActivity, /<a href="\/admin">Every owner<\/a>/);
      const nobody = (await agent.get('/admin?owner=nobody').expect(200)).text;
      assert.deepEqual(listedIds(nobody), []);
      assert.match(nobody, /This owner has no live sessions right now\./);
    });

    test('ending every session of an owner: a confirmation page, then a CSRF-checked post that ends exactly them and says how many', async () => {
      const alice = await createSessions(site.store, ['alice', 'alice', 'alice']);
      const others = await createSessions(site.store, ['bob', 'alice2', undefined]);

      const confirm = (await agent.get('/admin/end-owner?owner=alice').expect(200)).text;
      assert.match(confirm, /End every session of this owner\?/);
      assert.match(confirm, /Owner: <code class="owner-name">alice<\/code>/);
      assert.match(confirm, /<strong>all 3 live sessions<\/strong>/);
      assert.match(confirm, /<form method="post" action="\/admin\/end-owner\?owner=alice">/);
      assert.match(confirm, new RegExp(`<input type="hidden" name="csrf" value="${csrf}">`));
      assert.match(confirm, /<a class="button quiet" href="\/admin\?owner=alice">Cancel<\/a>/);
      assert.deepEqual(await idsStillStored(site.store, [...alice, ...others]), [...alice, ...others], 'the confirmation page ends nothing');

      for (const body of [{}, { csrf: '' }, { csrf: 'x'.repeat(43) }]) {
        const refused = await agent.post('/admin/end-owner?owner=alice').type('form').send(body).expect(403);
        assert.match(refused.text, /nothing was changed/);
      }
      await agent.post('/admin/end-owner?owner=alice').set('Origin', 'https://evil.example').type('form').send({ csrf }).expect(403);
      await request(site.app.callback()).post('/admin/end-owner?owner=alice').type('form').send({ csrf }).expect(303).expect('Location', '/admin/login');
      assert.deepEqual(await idsStillStored(site.store, [...alice, ...others]), [...alice, ...others], 'refused posts end nothing');
      assert.deepEqual(destroyed(), []);

      const ended = await agent.post('/admin/end-owner?owner=alice').type('form').send({ csrf }).expect(303);
      assert.equal(ended.headers.location, '/admin?owner=alice&done=ended-owner&removed=3');
      const page = (await agent.get(ended.headers.location!).expect(200)).text;
      assert.equal(resultNotice(page), 'Ended every session of alice: 3 sessions removed.');
      assert.deepEqual(listedIds(page), []);
      assert.deepEqual(await idsStillStored(site.store, [...alice, ...others]), others);
      assert.deepEqual(new Set(destroyed().map((e) => JSON.stringify(e))), new Set(alice.map((sid) => JSON.stringify({ sid, by: 'admin', owner: 'alice' }))));
      assert.match(page, /<span class="event-name">session.destroyed<\/span>/, 'in the feed by the time the page loads');

      const none = (await agent.get('/admin/end-owner?owner=alice').expect(200)).text;
      assert.match(none, /<strong>no live session right now<\/strong>/);
    });

    test('awkward owners round-trip through the filter, the button, the confirmation page and the redirect, escaped and URL-encoded', async () => {
      const bystanders = await createSessions(site.store, ['bystander', undefined]);
      for (const owner of AWKWARD_OWNERS) {
        const ids = await createSessions(site.store, [owner, owner]);
        const filtered = (await agent.get(`/admin?owner=${encodeURIComponent(owner)}`).expect(200)).text;
        assert.deepEqual(listedIds(filtered), [ids[1], ids[0]], owner);
        assert.ok(filtered.includes(`<input id="owner-filter" name="owner" value="${html(owner)}"`), owner);
        assert.doesNotMatch(filtered, /<script>alert/);

        const link = endOwnerLink(filtered)!;
        assert.equal(new URL(link, 'http://x').searchParams.get('owner'), owner, `the button names ${owner}`);
        assert.match(link, /^\/admin\/end-owner\?owner=[\w%.*+-]+$/, 'URL-encoded');
        const confirm = (await agent.get(link).expect(200)).text;
        assert.ok(confirm.includes(`<code class="owner-name">${html(owner)}</code>`), owner);
        assert.match(confirm, /<strong>all 2 live sessions<\/strong>/, owner);
        const action = unescaped(/<form method="post" action="([^"]+)">/.exec(confirm)![1]!);
        assert.equal(action, link);

        const ended = await agent.post(action).type('form').send({ csrf }).expect(303);
        const location = new URL(ended.headers.location!, 'http://x');
        assert.deepEqual([...location.searchParams], [['owner', owner], ['done', 'ended-owner'], ['removed', '2']], owner);
        const done = (await agent.get(ended.headers.location!).expect(200)).text;
        assert.equal(resultNotice(done), html(`Ended every session of ${shortOwner(owner)}: 2 sessions removed.`), owner);
        assert.doesNotMatch(done, /<script>alert/);
        assert.deepEqual(await idsStillStored(site.store, ids), [], owner);
      }
      assert.deepEqual(await idsStillStored(site.store, bystanders), bystanders);
      assert.equal(destroyed().length, 2 * AWKWARD_OWNERS.length);
      assert.ok(destroyed().every((event) => event.by === 'admin'));
    });

    test('visitors signed in by the site (setSessionOwner) are listed under their owner, and ending that owner signs each of them out', async () => {
      const signIn = async (name: string) => cookieHeaderOf(await request(site.app.callback()).post('/name').type('form').send({ name }).expect(303));
      const owner = 'Zoë <admin>';
      const [laptop, phone, other] = [await signIn(owner), await signIn(owner), await signIn('Bob')];
      const ids = [laptop, phone, other].map((cookie) => publicIdOf(/sid=([^;]+)/.exec(cookie)![1]!));

      const page = (await agent.get(`/admin?owner=${encodeURIComponent(owner)}`).expect(200)).text;
      assert.deepEqual(new Set(listedIds(page)), new Set(ids.slice(0, 2)));
      assert.ok(ownerCell(page, ids[0]!)?.includes('>Zoë &lt;admin&gt;</a>'));

      const ended = await agent.post(endOwnerLink(page)!).type('form').send({ csrf }).expect(303);
      assert.equal(resultNotice((await agent.get(ended.headers.location!).expect(200)).text), 'Ended every session of Zoë &lt;admin&gt;: 2 sessions removed.');
      assert.equal(await site.storedSession(laptop), undefined);
      assert.equal(await site.storedSession(phone), undefined);
      assert.equal((await site.storedSession(other))?.owner, 'Bob');
      assert.deepEqual(new Set(destroyed().map((e) => JSON.stringify(e))), new Set(ids.slice(0, 2).map((sid) => JSON.stringify({ sid, by: 'admin', owner }))));
    });

    test('an operator ending one owned session, even expired and not yet swept, logs it with its owner', async () => {
      const [live] = await createSessions(site.store, ['zed']);
      const [expired] = await createSessions(site.store, ['zed'], { expiresInMs: -60_000 });
      for (const id of [live!, expired!]) assert.deepEqual((await api().delete(`/admin/api/sessions/${id}`).expect(200)).body, { removed: 1 });
      assert.deepEqual(destroyed(), [{ sid: live, by: 'admin', owner: 'zed' }, { sid: expired, by: 'admin', owner: 'zed' }]);
    });

    test('owners that cannot be one get a 400 page on the filter, the confirmation page and the post, and nothing is ended', async () => {
      const seeded = await createSessions(site.store, ['alice', undefined]);
      for (const query of ['owner=', `owner=${'x'.repeat(513)}`, 'owner=%00', 'owner=%E0', 'owner=%ED%A0%80', 'owner=alice&owner=bob']) {
        for (const path of ['/admin', '/admin/end-owner']) {
          const res = await agent.get(`${path}?${query}`).expect(400);
          assert.match(res.text, /<p class="status-code">400<\/p>/, `${path}?${query}`);
        }
        const posted = await agent.post(`/admin/end-owner?${query}`).type('form').send({ csrf }).expect(400);
        assert.match(posted.text, /not an owner|more than once|not valid percent-encoded/, query);
      }
      const missing = await agent.post('/admin/end-owner').type('form').send({ csrf }).expect(400);
      assert.match(missing.text, /No owner was given/);
      await agent.get('/admin/end-owner').expect(400);
      assert.match((await agent.get('/admin?owner=').expect(400)).text, /must not be empty/);
      assert.match((await agent.get(`/admin?owner=${'x'.repeat(513)}`).expect(400)).text, /at most 512 characters, not 513/);
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded);
      assert.deepEqual(destroyed(), []);
    });
  });
}
