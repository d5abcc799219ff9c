/**
 * Owners on the upload site, over HTTP on every real store: signing in with
 * a display name (the upload survives, the id changes), the "Your sessions"
 * page, signing out of the other sessions or of one, and every wrong form of
 * the name and the session id refused with a clear page, the session as it was.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { publicIdOf } from '../../middleware/ids.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { cookieHeaderOf, shownLines, textFileForm } from '../helpers/upload-forms.ts';

/** A session as the "Your sessions" page lists it. */
interface ShownSession {
  id: string;
  thisDevice: boolean;
  /** The row's markup, for checks on what it says. */
  html: string;
}

/** The rows of the "Your sessions" page, in order. */
function shownSessions(html: string): ShownSession[] {
  return [...html.matchAll(/<li class="owner-session( this-device)?">([\s\S]*?)<\/li>/g)].map((match) => ({
    id: /name="id" value="([^"]*)"/.exec(match[2]!)?.[1] ?? '',
    thisDevice: match[1] !== undefined,
    html: match[2]!,
  }));
}

/** The public id of the session a Cookie header names. */
function publicIdOfCookie(cookie: string): string {
  const rawId = /(?:^|;\s*)sid=([^;]+)/.exec(cookie)?.[1];
  assert.ok(rawId, `no sid in ${cookie}`);
  return publicIdOf(rawId);
}

/** What the header says about who is signed in, HTML as sent; undefined when it names nobody. */
function signedInAs(html: string): string | undefined {
  return /<p class="signed-in">Signed in as <strong class="visitor-name">([\s\S]*?)<\/strong><\/p>/.exec(html)?.[1];
}

const NOT_SIGNED_IN = /You are not signed in, so there are no sessions to show/;

for (const kind of STORE_KINDS) {
  describe(`owners on the upload site, ${kind} store`, () => {
    let site: TestApp;
    beforeEach(async () => {
      site = await createTestApp(kind);
    });
    afterEach(async () => {
      await site.close();
    });

    const http = () => request(site.app.callback());

    /** Uploads `text` as a new visitor; answers its Cookie header. */
    async function visitorWithUpload(text: string): Promise<string> {
      const form = textFileForm(text);
      return cookieHeaderOf(await http().post('/').set('Content-Type', form.contentType).send(form.body).expect(303));
    }

    /** Signs in as `name` (with `cookie`, or as a new visitor); answers the Cookie header of the session it ends up with. */
    async function signIn(name: string, cookie?: string): Promise<string> {
      const req = http().post('/name').type('form');
      if (cookie) req.set('Cookie', cookie);
      const res = await req.send({ name }).expect(303);
      assert.equal(res.headers.location, '/sessions');
      return res.headers['set-cookie'] ? cookieHeaderOf(res) : cookie!;
    }

    async function page(path: string, cookie?: string): Promise<string> {
      const req = http().get(path);
      if (cookie) req.set('Cookie', cookie);
      return (await req.expect(200)).text;
    }

    test('signing in keeps the upload, gives the session a new id and names the visitor on every page', async () => {
      const before = await visitorWithUpload('kept line\nsecond line\n');
      const after = await signIn('Ada Lovelace', before);
      assert.notEqual(after, before);
      assert.notEqual(publicIdOfCookie(after), publicIdOfCookie(before));

      assert.equal(await site.storedSession(before), undefined, 'the old id is gone');
      const stored = await site.storedSession(after);
      assert.equal(stored?.owner, 'Ada Lovelace');
      assert.equal((stored?.data.upload as { text: string } | undefined)?.text, 'kept line\nsecond line\n');
      assert.equal(stored?.device, undefined, 'SESSION_TRACK_DEVICE is off by default');
      assert.deepEqual(
        site.events.map((e) => [e.event, e.owner]),
        [
          ['session.created', undefined],
          ['session.regenerated', 'Ada Lovelace'],
        ],
      );

      const action = await page('/action', after);
      assert.deepEqual(shownLines(action), ['kept line', 'second line']);
      for (const path of ['/', '/action', '/sessions']) assert.equal(signedInAs(await page(path, after)), 'Ada Lovelace', path);
      const home = await page('/', after);
      assert.match(home, /You are signed in as <strong class="visitor-name">Ada Lovelace<\/strong>/);
      assert.doesNotMatch(home, /action="\/name"/);

      // The old cookie names nothing any more: no upload, nobody signed in.
      const stale = await page('/action', before);
      assert.match(stale, /Nothing uploaded yet/);
      assert.equal(signedInAs(stale), undefined);
    });

    test('a visitor without a session who signs in gets one, owned by the name; the same name again changes nothing', async () => {
      const cookie = await signIn('Grace');
      assert.equal((await site.storedSession(cookie))?.owner, 'Grace');
      assert.deepEqual(site.events.map((e) => [e.event, e.owner]), [['session.created', 'Grace']]);

      const res = await http().post('/name').set('Cookie', cookie).type('form').send({ name: '  Grace ' }).expect(303);
      assert.equal(res.headers['set-cookie'], undefined, 'the same owner keeps its id');
      assert.equal(site.events.length, 1);
      assert.equal(await site.sessions.store.count(Date.now()), 1);
    });

    test('signing in as another name gives another id, without the first name\'s upload; the first name no longer lists it', async () => {
      const first = await signIn('Grace', await visitorWithUpload('grace only\n'));
      assert.deepEqual(shownLines(await page('/action', first)), ['grace only']);
      const second = await signIn('Hopper', first);
      assert.notEqual(second, first);
      assert.equal((await site.storedSession(second))?.owner, 'Hopper');
      assert.deepEqual((await site.storedSession(second))?.data, {}, 'one name\'s data never follows a sign-in as another');
      assert.deepEqual(await site.sessions.listOwnerSessions('Grace'), []);
      assert.equal(signedInAs(await page('/sessions', second)), 'Hopper');
    });

    test('two visitors with the same name both see both sessions, each with "this device" on its own', async () => {
      const laptop = await signIn('Grace', await visitorWithUpload('laptop\n'));
      const phone = await signIn('Grace');
      const stranger = await signIn('Someone else');

      for (const [cookie, other] of [
        [laptop, phone],
        [phone, laptop],
      ] as const) {
        const html = await page('/sessions', cookie);
        assert.match(html, /<form class="end-others-form" method="post" action="\/sessions\/end-others">/);
        const rows = shownSessions(html);
        assert.deepEqual(rows.map((row) => row.id).sort(), [publicIdOfCookie(laptop), publicIdOfCookie(phone)].sort());
        assert.deepEqual(
          rows.filter((row) => row.thisDevice).map((row) => row.id),
          [publicIdOfCookie(cookie)],
        );
        assert.ok(!rows.some((row) => row.id === publicIdOfCookie(stranger)));
        const otherRow = rows.find((row) => row.id === publicIdOfCookie(other))!;
        assert.match(otherRow.html, /Device not recorded/);
        assert.match(otherRow.html, /last seen <time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">\d{4}-\d\d-\d\d [\d:]+ UTC<\/time>/);
        assert.match(otherRow.html, /expires <time datetime="[^"]+">[^<]+<\/time> \(in \d+m( \d+s)?\)/);
      }
      assert.equal(shownSessions(await page('/sessions', stranger)).length, 1);
    });

    test('"Sign out of the other sessions" ends the other device\'s session, keeps this one and says how many', async () => {
      const laptop = await signIn('Grace', await visitorWithUpload('laptop line\n'));
      const phone = await signIn('Grace', await visitorWithUpload('phone line\n'));
      const stranger = await signIn('Hopper', await visitorWithUpload('stranger line\n'));
      site.events.length = 0;

      const res = await http().post('/sessions/end-others').set('Cookie', laptop).expect(303);
      assert.equal(res.headers.location, '/sessions?ended=1');
      assert.equal(res.headers['set-cookie'], undefined, 'this session keeps its id');
      assert.deepEqual(site.events.map((e) => [e.event, e.sid, e.by, e.owner]), [['session.destroyed', publicIdOfCookie(phone), 'user', 'Grace']]);

      const listed = await page('/sessions?ended=1', laptop);
      assert.match(listed, /Signed out of 1 other session\./);
      assert.deepEqual(shownSessions(listed).map((row) => [row.id, row.thisDevice]), [[publicIdOfCookie(laptop), true]]);
      assert.doesNotMatch(listed, /action="\/sessions\/end-others"/, 'no other session left to sign out of');
      assert.match(listed, /You are signed in nowhere else\./);

      // The phone's next request finds no session: no upload, nobody signed in.
      assert.equal(await site.storedSession(phone), undefined);
      const phoneAction = await page('/action', phone);
      assert.match(phoneAction, /Nothing uploaded yet/);
      assert.equal(signedInAs(phoneAction), undefined);
      assert.match(await page('/sessions', phone), NOT_SIGNED_IN);

      assert.deepEqual(shownLines(await page('/action', laptop)), ['laptop line']);
      assert.deepEqual(shownLines(await page('/action', stranger)), ['stranger line'], "another owner's session is untouched");

      await http().post('/sessions/end-others').set('Cookie', laptop).expect(303).expect('Location', '/sessions?ended=0');
      assert.match(await page('/sessions?ended=0', laptop), /There were no other sessions to sign out of\./);
    });

    test('"End" on one row ends that session only; on this device\'s row it forgets this session', async () => {
      const laptop = await signIn('Grace', await visitorWithUpload('laptop line\n'));
      const phone = await signIn('Grace');
      const tablet = await signIn('Grace');
      site.events.length = 0;

      await http().post('/sessions/end').set('Cookie', laptop).type('form').send({ id: publicIdOfCookie(phone) }).expect(303).expect('Location', '/sessions?ended=1');
      assert.equal(await site.storedSession(phone), undefined);
      assert.ok(await site.storedSession(tablet));
      assert.deepEqual(site.events.map((e) => [e.event, e.sid, e.by, e.owner]), [['session.destroyed', publicIdOfCookie(phone), 'user', 'Grace']]);
      assert.deepEqual(shownSessions(await page('/sessions', laptop)).map((row) => row.id).sort(), [publicIdOfCookie(laptop), publicIdOfCookie(tablet)].sort());

      const own = await http().post('/sessions/end').set('Cookie', laptop).type('form').send({ id: publicIdOfCookie(laptop) }).expect(303);
      assert.equal(own.headers.location, '/?forgotten=1');
      assert.match(String(own.headers['set-cookie']), /sid=;/);
      assert.equal(await site.storedSession(laptop), undefined);
      assert.deepEqual(site.events.slice(1).map((e) => [e.event, e.sid, e.by, e.owner]), [['session.destroyed', publicIdOfCookie(laptop), 'user', 'Grace']]);
      assert.ok(await site.storedSession(tablet));
    });

    test("ending another owner's session, or one that does not exist, is 404 and ends nothing", async () => {
      const mine = await signIn('Grace');
      const theirs = await signIn('Hopper', await visitorWithUpload('theirs\n'));
      site.events.length = 0;

      for (const id of [publicIdOfCookie(theirs), publicIdOf('x'.repeat(43))]) {
        const res = await http().post('/sessions/end').set('Cookie', mine).type('form').send({ id }).expect(404);
        assert.match(res.text, /<h1>No such session<\/h1>/);
        assert.match(res.text, /Nothing was ended\./);
        assert.equal(signedInAs(res.text), 'Grace');
      }
      assert.deepEqual(shownLines(await page('/action', theirs)), ['theirs']);
      assert.equal(await site.sessions.store.count(Date.now()), 2);
      assert.deepEqual(site.events, []);
    });

    test('wrong forms of the session id: a clear page, 400, nothing ended', async () => {
      const mine = await signIn('Grace');
      const other = await signIn('Grace');
      const cases: [string, string, RegExp][] = [
        ['no id field', '', /No session chosen/],
        ['an empty id', 'id=', /Unknown session/],
        ['an id too short', `id=${publicIdOfCookie(other).slice(1)}`, /Unknown session/],
        ['an id with a character no id has', `id=${publicIdOfCookie(other).slice(1)}%2F`, /Unknown session/],
        ['markup', `id=${encodeURIComponent('<script>alert(1)</script>')}`, /Unknown session/],
        ['two ids', `id=${publicIdOfCookie(other)}&id=${publicIdOfCookie(mine)}`, /Unexpected form/],
      ];
      for (const [name, body, heading] of cases) {
        const res = await http().post('/sessions/end').set('Cookie', mine).type('form').send(body);
        assert.equal(res.status, 400, name);
        assert.match(res.text, heading, name);
        assert.doesNotMatch(res.text, /<script>alert/, name);
      }
      assert.ok(await site.storedSession(other));
      assert.ok(await site.storedSession(mine));
    });

    test('not signed in: the page says so and offers the name form; the end buttons are refused with 403', async () => {
      const res = await http().get('/sessions').expect(200);
      assert.match(res.text, NOT_SIGNED_IN);
      assert.match(res.text, /<form class="name-form" method="post" action="\/name">/);
      assert.match(res.text, /<input id="display-name" name="name" type="text" maxlength="100" required/);
      assert.equal(res.headers['set-cookie'], undefined, 'reading the page creates no session');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.match((await http().get('/').expect(200)).text, /action="\/name"/);

      const anonymous = await visitorWithUpload('anonymous\n');
      const stranger = await signIn('Hopper');
      assert.match(await page('/sessions', anonymous), NOT_SIGNED_IN);
      for (const req of [
        http().post('/sessions/end-others').set('Cookie', anonymous),
        http().post('/sessions/end').set('Cookie', anonymous).type('form').send({ id: publicIdOfCookie(stranger) }),
        http().post('/sessions/end-others'),
      ]) {
        const refused = await req.expect(403);
        assert.match(refused.text, /<h1>Not signed in<\/h1>/);
      }
      assert.deepEqual(shownLines(await page('/action', anonymous)), ['anonymous']);
      assert.ok(await site.storedSession(stranger));
      assert.equal(await site.sessions.store.count(Date.now()), 2);
    });

    test('the owner routes answer other methods with 405', async () => {
      for (const path of ['/name', '/sessions/end-others', '/sessions/end']) {
        const res = await http().get(path).expect(405);
        assert.match(String(res.headers.allow), /POST/);
      }
      await http().post('/sessions').expect(405);
    });

    describe('wrong forms of the name: a clear page, and the session as it was', () => {
      const cases: { name: string; status: number; heading: RegExp; send: (req: request.Test) => request.Test }[] = [
        { name: 'no name field', status: 400, heading: /No name given/, send: (req) => req.type('form').send('') },
        { name: 'another field only', status: 400, heading: /No name given/, send: (req) => req.type('form').send('nom=Ada') },
        { name: 'no body at all', status: 400, heading: /No name given/, send: (req) => req },
        { name: 'an empty name', status: 400, heading: /No name given/, send: (req) => req.type('form').send('name=') },
        { name: 'only whitespace', status: 400, heading: /No name given/, send: (req) => req.type('form').send('name=%20%20%09+%C2%A0') },
        { name: '101 characters', status: 400, heading: /Name too long/, send: (req) => req.type('form').send(`name=${'a'.repeat(101)}`) },
        { name: '101 characters that are not ASCII', status: 400, heading: /Name too long/, send: (req) => req.type('form').send({ name: 'é'.repeat(101) }) },
        { name: 'a NUL character', status: 400, heading: /Name not allowed/, send: (req) => req.type('form').send('name=Ada%00Lovelace') },
        { name: 'a line break', status: 400, heading: /Name not allowed/, send: (req) => req.type('form').send('name=Ada%0D%0ALovelace') },
        { name: 'an escape character', status: 400, heading: /Name not allowed/, send: (req) => req.type('form').send('name=Ada%1B%5B31m') },
        { name: 'DEL', status: 400, heading: /Name not allowed/, send: (req) => req.type('form').send('name=Ada%7F') },
        { name: 'a zero-width space only', status: 400, heading: /Name not allowed/, send: (req) => req.type('form').send('name=%E2%80%8B') },
        { name: 'a bidi override', status: 400, heading: /Name not allowed/, send: (req) => req.type('form').send('name=admin%E2%80%AEgnp.exe') },
        { name: 'a malformed escape', status: 400, heading: /Form not readable/, send: (req) => req.type('form').send('name=Ada%E0') },
        { name: 'an encoded lone surrogate', status: 400, heading: /Form not readable/, send: (req) => req.type('form').send('name=%ED%A0%80') },
        { name: 'a C1 control character', status: 400, heading: /Name not allowed/, send: (req) => req.type('form').send('name=Ada%C2%85') },
        { name: 'the name twice', status: 400, heading: /Unexpected form/, send: (req) => req.type('form').send('name=Ada&name=Grace') },
        { name: 'JSON instead of a form', status: 415, heading: /Unsupported form/, send: (req) => req.type('json').send({ name: 'Ada' }) },
        { name: 'a form over 16 KiB', status: 413, heading: /Too large/, send: (req) => req.type('form').send(`name=${'a'.repeat(17 * 1024)}`) },
      ];
      for (const wrong of cases) {
        test(`${wrong.name}: ${wrong.status}`, async () => {
          const anonymous = await visitorWithUpload('kept\n');
          const signedIn = await signIn('Grace', await visitorWithUpload('kept too\n'));
          const before = await Promise.all([site.storedSession(anonymous), site.storedSession(signedIn)]);
          const eventCount = site.events.length;

          for (const [cookie, owner] of [
            [anonymous, undefined],
            [signedIn, 'Grace'],
          ] as const) {
            const res = await wrong.send(http().post('/name').set('Cookie', cookie));
            assert.equal(res.status, wrong.status);
            assert.match(res.text, new RegExp(`<h1>${wrong.heading.source}</h1>`));
            assert.equal(res.headers['set-cookie'], undefined);
            assert.equal(res.headers.location, undefined);
            assert.equal(signedInAs(res.text), owner, 'the error page names whoever was signed in, no one else');
          }
          assert.deepEqual(await Promise.all([site.storedSession(anonymous), site.storedSession(signedIn)]), before);
          assert.equal(site.events.length, eventCount);
          assert.equal(await site.sessions.store.count(Date.now()), 2);
        });
      }

      test('a foreign Origin is refused with 403 and signs nobody in', async () => {
        const cookie = await visitorWithUpload('kept\n');
        await http().post('/name').set('Cookie', cookie).set('Origin', 'https://evil.example').type('form').send({ name: 'Mallory' }).expect(403);
        assert.equal((await site.storedSession(cookie))?.owner, undefined);
      });
    });

    test('a name of exactly 100 characters, after trimming, is accepted', async () => {
      const name = `${'n'.repeat(99)}é`;
      const cookie = await signIn(`  ${name}\t`);
      assert.equal((await site.storedSession(cookie))?.owner, name);
    });

    test('markup in a name is shown as text on every page, never as markup', async () => {
      for (const name of ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "Ada ' & \"Lovelace\""]) {
        const cookie = await signIn(name);
        assert.equal((await site.storedSession(cookie))?.owner, name);
        const escaped = name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');
        for (const path of ['/', '/action', '/sessions']) {
          const html = await page(path, cookie);
          assert.equal(signedInAs(html), escaped, path);
          assert.doesNotMatch(html, /<script>alert|<img src=x/, path);
        }
      }
    });
  });
}

describe('owners on the upload site with SESSION_TRACK_DEVICE', () => {
  for (const kind of STORE_KINDS) {
    test(`the ${kind} store: each row shows the browser and address it was signed in from, escaped`, async () => {
      const site = await createTestApp(kind, { sessions: { trackDevice: true } });
      try {
        const signIn = async (userAgent: string) =>
          cookieHeaderOf(await request(site.app.callback()).post('/name').set('User-Agent', userAgent).type('form').send({ name: 'Grace' }).expect(303));
        const laptop = await signIn('Laptop/1.0 <b>bold</b>');
        const phone = await signIn('Phone/2.0');

        const html = (await request(site.app.callback()).get('/sessions').set('Cookie', phone).set('User-Agent', 'Phone/2.0').expect(200)).text;
        const rows = shownSessions(html);
        assert.equal(rows.length, 2);
        const laptopRow = rows.find((row) => row.id === publicIdOfCookie(laptop))!;
        assert.equal(laptopRow.thisDevice, false);
        assert.match(laptopRow.html, /Laptop\/1\.0 &lt;b&gt;bold&lt;\/b&gt;/);
        assert.match(laptopRow.html, /from (::ffff:)?127\.0\.0\.1|from ::1/);
        assert.doesNotMatch(html, /<b>bold/);
        const phoneRow = rows.find((row) => row.thisDevice)!;
        assert.equal(phoneRow.id, publicIdOfCookie(phone));
        assert.match(phoneRow.html, /Phone\/2\.0/);
        assert.match(phoneRow.html, /this device/);
      } finally {
        await site.close();
      }
    });
  }
});
