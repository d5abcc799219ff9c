/**
 * What an upload costs in the session, on every store: the file is kept as
 * its text (not an array of lines), and a file that would make the session
 * larger than SESSION_MAX_BYTES once stored (line breaks and control
 * characters grow as JSON) is refused with 413, keeping the previous upload.
 * The limits are the defaults: UPLOAD_MAX_BYTES 1 MiB, SESSION_MAX_BYTES 2 MiB.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { publicIdOf } from '../../middleware/ids.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { cookieHeaderOf, shownLines, textFileForm } from '../helpers/upload-forms.ts';

const MIB = 1024 * 1024;

for (const kind of STORE_KINDS) {
  describe(`the size of an upload once stored, on the ${kind} store`, () => {
    let site: TestApp;
    before(async () => {
      site = await createTestApp(kind);
    });
    after(async () => {
      await site.close();
    });

    function post(data: string | Buffer, cookie?: string): request.Test {
      const form = textFileForm(data);
      const req = request(site.app.callback()).post('/').set('Content-Type', form.contentType);
      if (cookie) req.set('Cookie', cookie);
      return req.send(form.body);
    }

    async function linesShown(cookie: string): Promise<string[]> {
      return shownLines((await request(site.app.callback()).get('/action').set('Cookie', cookie).expect(200)).text);
    }

    test('an upload is stored as its text, not as an array of lines', async () => {
      const cookie = cookieHeaderOf(await post('first line\r\nsecond line\n').expect(303));
      const upload = (await site.storedSession(cookie))?.data.upload as Record<string, unknown>;
      assert.deepEqual(Object.keys(upload).sort(), ['fileName', 'sizeBytes', 'text', 'uploadedAt']);
      assert.equal(upload.text, 'first line\r\nsecond line\n');
      assert.equal(upload.lines, undefined);
      assert.equal(upload.sizeBytes, 24);
      assert.deepEqual(await linesShown(cookie), ['first line', 'second line']);
    });

    test('a session stored with the older lines array is still shown', async () => {
      const cookie = cookieHeaderOf(await post('replaced\n').expect(303));
      const id = publicIdOf(/sid=([^;]+)/.exec(cookie)![1]!);
      const record = (await site.storedSession(cookie))!;
      const older = { fileName: 'old.txt', lines: ['kept from before', '', 'as lines'], sizeBytes: 28, uploadedAt: '2025-01-31T14:05:09.000Z' };
      assert.equal(await site.sessions.store.update(id, { ...record, data: { upload: older } }, Date.now()), true);
      assert.deepEqual(await linesShown(cookie), ['kept from before', '', 'as lines']);
      const home = await request(site.app.callback()).get('/').set('Cookie', cookie).expect(200);
      assert.match(home.text, /This session holds <strong class="file-name">old\.txt<\/strong>:\s+3 lines, 28 bytes/);
    });

    const tooLargeOnceStored: { name: string; data: () => Buffer }[] = [
      // 1 MiB on disk, each "\n" two bytes of JSON: over 2 MiB stored (it was 3 MB as an array of empty lines).
      { name: 'a 1 MiB file of newlines', data: () => Buffer.alloc(MIB, '\n') },
      // Each U+0001 is one byte on disk and six ("\u0001") in JSON.
      { name: 'a file of 400,000 control characters', data: () => Buffer.alloc(400_000, 0x01) },
    ];
    for (const { name, data } of tooLargeOnceStored) {
      test(`${name}: 413 "too large once stored", nothing stored, the previous upload still shown`, async () => {
        const cookie = cookieHeaderOf(await post('kept line\n').expect(303));
        const before = await site.storedSession(cookie);
        const res = await post(data(), cookie).expect(413);
        assert.match(res.headers['content-type'] ?? '', /text\/html/);
        assert.equal(res.headers.location, undefined, 'an error page redirects nowhere');
        assert.match(res.text, /<p class="status-code">413<\/p>/);
        assert.match(res.text, /<h1>File too large<\/h1>/);
        assert.match(res.text, /too large once stored in your session: it would take [\d.]+ MiB \([\d,]+ bytes\), and a session holds at most 2 MiB \(2,097,152 bytes\)/);
        assert.match(res.text, /Nothing was stored; your previous upload, if any, is kept/);
        assert.deepEqual((await site.storedSession(cookie))?.data, before?.data);
        assert.deepEqual(await linesShown(cookie), ['kept line']);
      });

      test(`${name}, from a new visitor: 413 and no session is created`, async () => {
        const count = await site.sessions.store.count(Date.now());
        const res = await post(data()).expect(413);
        assert.equal(res.headers['set-cookie'], undefined);
        assert.equal(await site.sessions.store.count(Date.now()), count);
      });
    }

    test('a 1 MiB file of plain text is stored whole', async () => {
      const text = `${'plain text, a line of it\n'.repeat(Math.floor(MIB / 26))}`;
      const cookie = cookieHeaderOf(await post(text).expect(303));
      const upload = (await site.storedSession(cookie))?.data.upload as { text: string } | undefined;
      assert.equal(upload?.text, text);
    });
  });
}
