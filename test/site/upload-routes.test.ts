import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { cookieHeaderOf, multipartBody, shownLines, textFileForm } from '../helpers/upload-forms.ts';

const UPLOAD_MAX_BYTES = 1000;

for (const kind of STORE_KINDS) {
  describe(`upload site on the ${kind} store`, () => {
    let site: TestApp;
    beforeEach(async () => {
      site = await createTestApp(kind, { server: { uploadMaxBytes: UPLOAD_MAX_BYTES } });
    });
    afterEach(async () => {
      await site.close();
    });

    /** Uploads a file and returns the session's cookie header. */
    async function upload(data: string | Buffer, cookie?: string, filename?: string): Promise<string> {
      const form = textFileForm(data, filename);
      const req = request(site.app.callback()).post('/').set('Content-Type', form.contentType);
      if (cookie) req.set('Cookie', cookie);
      const res = await req.send(form.body).expect(303);
      assert.equal(res.headers.location, '/action');
      return cookie ?? cookieHeaderOf(res);
    }

    async function linesShown(cookie: string): Promise<string[]> {
      const res = await request(site.app.callback()).get('/action').set('Cookie', cookie).expect(200);
      return shownLines(res.text);
    }

    test('GET / shows the form and says the session holds no upload, without creating a session', async () => {
      const res = await request(site.app.callback()).get('/').expect(200).expect('Content-Type', /text\/html/);
      assert.match(res.text, /<form class="upload-form" method="post" action="\/" enctype="multipart\/form-data">/);
      assert.match(res.text, /<input id="textfile" name="textfile" type="file" required>/);
      assert.match(res.text, /holds no upload yet/);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(await site.sessions.store.count(Date.now()), 0);
    });

    test('POST / stores the text in the session, 303 to /action, which shows its lines', async () => {
      const cookie = await upload('first line\nsecond line\n', undefined, 'notes.txt');
      assert.deepEqual(await linesShown(cookie), ['first line', 'second line']);
      const stored = await site.storedSession(cookie);
      assert.equal((stored?.data.upload as { text: string } | undefined)?.text, 'first line\nsecond line\n');
      assert.deepEqual(site.events.map((e) => e.event), ['session.created']);

      const home = await request(site.app.callback()).get('/').set('Cookie', cookie).expect(200);
      assert.match(home.text, /This session holds <strong class="file-name">notes\.txt<\/strong>:\s+2 lines, 23 bytes/);
    });

    test('lines keep their whitespace, blank lines and CRLF endings are handled', async () => {
      const cookie = await upload('  indented\r\n\ttabbed \r\n\r\n\nlast line without newline');
      assert.deepEqual(await linesShown(cookie), ['  indented', '\ttabbed ', '', '', 'last line without newline']);
    });

    test('markup in a file is shown as text, never as markup', async () => {
      const hostile = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)", '&amp; &lt;'];
      const cookie = await upload(`${hostile.join('\n')}\n`, undefined, '<img src=x onerror=alert(2)>.txt');
      const res = await request(site.app.callback()).get('/action').set('Cookie', cookie).expect(200);
      assert.deepEqual(shownLines(res.text), hostile);
      assert.doesNotMatch(res.text, /<script>alert/);
      assert.doesNotMatch(res.text, /<img src=x/);
      assert.match(res.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
      assert.match(res.text, /&#34;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
      assert.match(res.text, /<h1 class="file-name">&lt;img src=x onerror=alert\(2\)&gt;\.txt<\/h1>/);
      assert.match(res.text, /<title>&lt;img src=x onerror=alert\(2\)&gt;\.txt · sessionkeeper<\/title>/);
    });

    test('a second upload replaces the first in the same session', async () => {
      const cookie = await upload('old\n');
      await upload('new\n', cookie);
      assert.deepEqual(await linesShown(cookie), ['new']);
      assert.equal(await site.sessions.store.count(Date.now()), 1);
    });

    test('a file of exactly UPLOAD_MAX_BYTES is accepted', async () => {
      const cookie = await upload(Buffer.alloc(UPLOAD_MAX_BYTES, 'a'));
      assert.deepEqual(await linesShown(cookie), ['a'.repeat(UPLOAD_MAX_BYTES)]);
    });

    test('GET /action without an upload says so', async () => {
      const res = await request(site.app.callback()).get('/action').expect(200);
      assert.match(res.text, /<h1>Nothing uploaded yet<\/h1>/);
      assert.equal(res.headers['set-cookie'], undefined);
    });

    test('POST /forget ends the session: its data is deleted and /action shows nothing', async () => {
      const cookie = await upload('secret\n');
      const stored = await site.storedSession(cookie);
      assert.ok(stored);
      const res = await request(site.app.callback()).post('/forget').set('Cookie', cookie).expect(303);
      assert.equal(res.headers.location, '/?forgotten=1');
      assert.match(String(res.headers['set-cookie']), /sid=;/);
      assert.equal(await site.storedSession(cookie), undefined);
      assert.equal(await site.sessions.store.count(Date.now()), 0);
      assert.deepEqual(site.events.map((e) => [e.event, e.by]), [['session.created', undefined], ['session.destroyed', 'user']]);

      const action = await request(site.app.callback()).get('/action').set('Cookie', cookie).expect(200);
      assert.match(action.text, /Nothing uploaded yet/);
      assert.doesNotMatch(action.text, /secret/);
      const home = await request(site.app.callback()).get('/?forgotten=1').expect(200);
      assert.match(home.text, /Your session has ended and its data has been deleted/);
    });

    describe('bad uploads: a clear page and status, nothing stored, the previous upload kept', () => {
      const cases: { name: string; status: number; heading: RegExp; form: () => { contentType: string; body: Buffer } }[] = [
        { name: 'one byte over UPLOAD_MAX_BYTES', status: 413, heading: /File too large/, form: () => textFileForm(Buffer.alloc(UPLOAD_MAX_BYTES + 1, 'a')) },
        { name: 'far over UPLOAD_MAX_BYTES', status: 413, heading: /File too large/, form: () => textFileForm(Buffer.alloc(200 * UPLOAD_MAX_BYTES, 'a')) },
        { name: 'an empty file', status: 400, heading: /Empty file/, form: () => textFileForm('') },
        { name: 'no file chosen (an empty, nameless part, as browsers send)', status: 400, heading: /No file chosen/, form: () => textFileForm('', '') },
        { name: 'a form without any file', status: 400, heading: /No file chosen/, form: () => multipartBody([{ name: 'comment', data: 'hello' }]) },
        { name: 'the file in another field', status: 400, heading: /Unexpected form/, form: () => multipartBody([{ name: 'file', filename: 'a.txt', data: 'hello\n' }]) },
        {
          name: 'two small files',
          status: 400,
          heading: /One file at a time/,
          form: () => multipartBody([{ name: 'textfile', filename: 'a.txt', data: 'a\n' }, { name: 'textfile', filename: 'b.txt', data: 'b\n' }]),
        },
        { name: 'invalid UTF-8', status: 415, heading: /Not a text file/, form: () => textFileForm(Buffer.from([0x68, 0x69, 0xff, 0xfe, 0x0a])) },
        { name: 'Latin-1 text', status: 415, heading: /Not a text file/, form: () => textFileForm(Buffer.from('café\n', 'latin1')) },
        { name: 'a truncated UTF-8 sequence', status: 415, heading: /Not a text file/, form: () => textFileForm(Buffer.from([0x61, 0xe2, 0x82])) },
        { name: 'a NUL byte', status: 415, heading: /Not a text file/, form: () => textFileForm(Buffer.from('text\0with nul\n')) },
        { name: 'a malformed multipart body', status: 400, heading: /Unreadable upload/, form: () => ({ contentType: 'multipart/form-data; boundary=xyz', body: Buffer.from('--xyz\r\nnot a header\r\n\r\ndata') }) },
      ];

      for (const { name, status, heading, form } of cases) {
        test(`${name}: ${status}`, async () => {
          const cookie = await upload('kept line\n');
          const before = await site.storedSession(cookie);
          const { contentType, body } = form();
          const res = await request(site.app.callback()).post('/').set('Cookie', cookie).set('Content-Type', contentType).send(body).expect(status);
          assert.match(res.headers['content-type'] ?? '', /text\/html/);
          assert.match(res.text, new RegExp(`<p class="status-code">${status}</p>`));
          assert.match(res.text, heading);
          assert.doesNotMatch(res.text, /\bat .+\.(ts|js):\d+/, 'no stack trace in the page');
          const after = await site.storedSession(cookie);
          assert.deepEqual(after?.data, before?.data);
          assert.deepEqual(await linesShown(cookie), ['kept line']);
        });

        test(`${name}, from a new visitor: ${status} and no session is created`, async () => {
          const { contentType, body } = form();
          const res = await request(site.app.callback()).post('/').set('Content-Type', contentType).send(body).expect(status);
          assert.equal(res.headers['set-cookie'], undefined);
          assert.equal(await site.sessions.store.count(Date.now()), 0);
        });
      }

      test('a body that is not multipart: 400 no file', async () => {
        const res = await request(site.app.callback()).post('/').type('form').send({ textfile: 'hello' }).expect(400);
        assert.match(res.text, /No file chosen/);
        assert.equal(res.headers['set-cookie'], undefined);
      });
    });

    describe('cross-origin posts', () => {
      test('POST / with a foreign Origin is refused with 403 and stores nothing', async () => {
        const cookie = await upload('kept line\n');
        const form = textFileForm('evil\n');
        const res = await request(site.app.callback())
          .post('/')
          .set('Cookie', cookie)
          .set('Origin', 'https://evil.example')
          .set('Content-Type', form.contentType)
          .send(form.body)
          .expect(403);
        assert.match(res.text, /sent from another site/);
        assert.deepEqual(await linesShown(cookie), ['kept line']);
      });

      test('POST /forget with a foreign or opaque Origin is refused with 403 and the session lives on', async () => {
        const cookie = await upload('kept line\n');
        for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1.evil.example']) {
          await request(site.app.callback()).post('/forget').set('Cookie', cookie).set('Origin', origin).expect(403);
        }
        assert.deepEqual(await linesShown(cookie), ['kept line']);
      });

      test('without an Origin, a foreign or unreadable Referer is refused too; this site\'s Referer passes', async () => {
        const cookie = await upload('kept line\n');
        for (const referer of ['https://evil.example/page', 'not a url']) {
          const res = await request(site.app.callback()).post('/forget').set('Cookie', cookie).set('Referer', referer).expect(403);
          assert.match(res.text, /sent from another site/);
        }
        assert.deepEqual(await linesShown(cookie), ['kept line']);
        await request(site.app.callback()).post('/forget').set('Cookie', cookie).set('Host', 'site.test').set('Referer', 'http://site.test/action').expect(303);
        assert.equal(await site.storedSession(cookie), undefined);
      });

      test('posts whose Origin is this site are accepted', async () => {
        const form = textFileForm('same site\n');
        const res = await request(site.app.callback())
          .post('/')
          .set('Host', 'site.test:8080')
          .set('Origin', 'http://site.test:8080')
          .set('Content-Type', form.contentType)
          .send(form.body)
          .expect(303);
        const cookie = cookieHeaderOf(res);
        await request(site.app.callback()).post('/forget').set('Cookie', cookie).set('Host', 'site.test:8080').set('Origin', 'http://site.test:8080').expect(303);
        assert.equal(await site.storedSession(cookie), undefined);
      });
    });
  });
}
