/**
 * What an upload may carry besides its file is bounded, and so is the file
 * when no Content-Length announces it: a chunked body over UPLOAD_MAX_BYTES,
 * a part header, field name or file name over its limit, too many fields or a
 * field too long each get a clear 4xx page, the visitor's previous upload is
 * kept, and nothing is logged as a server error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import request from 'supertest';
import { rawRequest } from '../helpers/raw-http.ts';
import { chunked } from '../helpers/request-bodies.ts';
import { type ListeningTestApp, startSiteWithUpload } from '../helpers/test-app.ts';
import { cookieHeaderOf, type FormPart, multipartBody, shownLines, textFileForm } from '../helpers/upload-forms.ts';

const UPLOAD_MAX_BYTES = 1000;

describe('upload bounds', () => {
  let site: ListeningTestApp;
  let server: Server;
  let port: number;
  /** The Cookie header of a visitor whose first upload, `kept line`, every refusal must leave in place. */
  let cookie: string;
  before(async () => {
    ({ site, cookie } = await startSiteWithUpload({ server: { uploadMaxBytes: UPLOAD_MAX_BYTES } }));
    ({ httpServer: server, port } = site);
  });
  after(() => site.close());

  /** Checks the refusal page and that the session still shows the first upload, and nothing was logged as an error. */
  async function assertRefusedAndKept(status: number, body: string, heading: RegExp): Promise<void> {
    assert.match(body, new RegExp(`<p class="status-code">${status}</p>`));
    assert.match(body, heading);
    const action = await request(server).get('/action').set('Cookie', cookie).expect(200);
    assert.deepEqual(shownLines(action.text), ['kept line']);
    const errors = site.logs.lines().filter((line) => line.level! >= 50);
    assert.deepEqual(errors, [], 'no error-level log line');
  }

  test('a chunked upload (no Content-Length) one byte over UPLOAD_MAX_BYTES: 413, the previous upload kept', async () => {
    const form = textFileForm(Buffer.alloc(UPLOAD_MAX_BYTES + 1, 'a'));
    const res = await rawRequest(port, {
      method: 'POST',
      target: '/',
      headers: [['Host', 'localhost'], ['Cookie', cookie], ['Content-Type', form.contentType], ['Transfer-Encoding', 'chunked']],
      body: chunked(form.body, 256),
    });
    assert.equal(res.status, 413);
    await assertRefusedAndKept(413, res.body.toString('utf8'), /File too large/);
  });

  test('a chunked upload of exactly UPLOAD_MAX_BYTES is stored', async () => {
    const form = textFileForm(Buffer.alloc(UPLOAD_MAX_BYTES, 'b'));
    const res = await rawRequest(port, {
      method: 'POST',
      target: '/',
      headers: [['Host', 'localhost'], ['Content-Type', form.contentType], ['Transfer-Encoding', 'chunked']],
      body: chunked(form.body, 256),
    });
    assert.equal(res.status, 303);
  });

  const file: FormPart = { name: 'textfile', filename: 'notes.txt', data: 'hello\n' };
  const cases: { name: string; status: number; heading: RegExp; form: () => { contentType: string; body: Buffer } }[] = [
    {
      name: 'a part header block over 16 KiB',
      status: 400,
      heading: /Unreadable upload/,
      form: () => multipartBody([{ ...file, contentType: `text/plain; padding="${'p'.repeat(20 * 1024)}"` }]),
    },
    { name: 'a field name over 100 bytes', status: 400, heading: /Unexpected form/, form: () => multipartBody([{ name: 'n'.repeat(101), data: 'x' }, file]) },
    { name: 'a file field name over 100 bytes', status: 400, heading: /Unexpected form/, form: () => multipartBody([{ ...file, name: 'n'.repeat(101) }]) },
    { name: 'a file name over 1 KiB', status: 400, heading: /File name too long/, form: () => multipartBody([{ ...file, filename: `${'é'.repeat(600)}.txt` }]) },
    { name: 'more than 20 fields', status: 400, heading: /Unexpected form/, form: () => multipartBody([...Array.from({ length: 21 }, (_, i) => ({ name: `f${i}`, data: 'x' })), file]) },
    { name: 'a field over 64 KiB', status: 413, heading: /Form too large/, form: () => multipartBody([{ name: 'comment', data: 'c'.repeat(64 * 1024 + 1) }, file]) },
  ];
  for (const { name, status, heading, form } of cases) {
    test(`${name}: ${status}, the previous upload kept`, async () => {
      const { contentType, body } = form();
      const res = await request(server).post('/').set('Cookie', cookie).set('Content-Type', contentType).send(body).expect(status);
      await assertRefusedAndKept(status, res.text, heading);
    });
  }

  test('a file name of 255 two-byte characters is within the limits and shown whole', async () => {
    const fileName = `${'é'.repeat(251)}.txt`;
    const form = multipartBody([{ ...file, filename: fileName }]);
    const res = await request(server).post('/').set('Content-Type', form.contentType).send(form.body).expect(303);
    const action = await request(server).get('/action').set('Cookie', cookieHeaderOf(res)).expect(200);
    assert.ok(action.text.includes(`<h1 class="file-name">${fileName}</h1>`));
  });
});
