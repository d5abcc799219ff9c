/**
 * Uploads sent with a Content-Encoding. gzip, deflate and br are decoded
 * (clients and proxies may compress request bodies, and decoding is bounded
 * like reading: the limit counts decoded bytes and received bytes both); a
 * body that does not decompress is the visitor's 400, an encoding the site
 * does not decode their 415, and neither is logged as a server error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { compressed, streamChunkedRequest, type BodyEncoding } from '../helpers/request-bodies.ts';
import { type ListeningTestApp, startSiteWithUpload } from '../helpers/test-app.ts';
import { cookieHeaderOf, shownLines, textFileForm } from '../helpers/upload-forms.ts';

const UPLOAD_MAX_BYTES = 1000;
const ENCODINGS: BodyEncoding[] = ['gzip', 'deflate', 'br'];

describe('compressed uploads', () => {
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

  /** Posts `body` as the visitor holding the first upload. */
  function post(contentType: string, encoding: string, body: Buffer) {
    return request(server).post('/').set('Cookie', cookie).set('Content-Type', contentType).set('Content-Encoding', encoding).send(body);
  }

  async function assertRefusedAndKept(res: request.Response, status: number, heading: RegExp): Promise<void> {
    assert.equal(res.status, status);
    assert.match(res.text, heading);
    assert.doesNotMatch(res.text, /\bat .+\.(ts|js):\d+/, 'no stack trace in the page');
    const action = await request(server).get('/action').set('Cookie', cookie).expect(200);
    assert.deepEqual(shownLines(action.text), ['kept line']);
    const errors = site.logs.lines().filter((line) => line.level! >= 50);
    assert.deepEqual(errors, [], 'no error-level log line');
  }

  for (const encoding of ENCODINGS) {
    test(`a ${encoding} upload is decoded and stored`, async () => {
      const form = textFileForm('compressed line\nanother\n');
      const res = await request(server).post('/').set('Content-Type', form.contentType).set('Content-Encoding', encoding).send(compressed(form.body, encoding)).expect(303);
      const action = await request(server).get('/action').set('Cookie', cookieHeaderOf(res)).expect(200);
      assert.deepEqual(shownLines(action.text), ['compressed line', 'another']);
    });

    test(`a ${encoding} upload that does not decompress: 400, the previous upload kept`, async () => {
      const form = textFileForm('will be cut\n');
      await assertRefusedAndKept(await post(form.contentType, encoding, Buffer.from('this is not compressed at all\n')), 400, /does not decompress/);
      // Cut short: a valid start, then nothing.
      const whole = compressed(form.body, encoding);
      await assertRefusedAndKept(await post(form.contentType, encoding, whole.subarray(0, whole.length >> 1)), 400, /does not decompress/);
    });
  }

  for (const encoding of ['compress', 'x-unknown', 'gzip, br']) {
    test(`Content-Encoding: ${encoding}: 415, the previous upload kept`, async () => {
      const form = textFileForm('new line\n');
      await assertRefusedAndKept(await post(form.contentType, encoding, form.body), 415, /Unsupported encoding/);
    });
  }

  test('a gzip body that decodes to far more than UPLOAD_MAX_BYTES: 413 while decoding', async () => {
    const form = textFileForm(Buffer.alloc(10 * 1024 * 1024, 'a'));
    await assertRefusedAndKept(await post(form.contentType, 'gzip', gzipSync(form.body)), 413, /File too large/);
  });

  test('a chunked gzip body that decodes to nothing but goes on past the limit: 413 by the bytes received', async () => {
    // Empty gzip members, one after the other, are a valid body that never grows once decoded.
    const emptyMembers = Buffer.concat(Array.from({ length: 10_000 }, () => gzipSync(Buffer.alloc(0))));
    const pieces = Array.from({ length: Math.ceil(emptyMembers.length / 4096) }, (_, i) => emptyMembers.subarray(i * 4096, (i + 1) * 4096));
    const res = await streamChunkedRequest(
      port,
      { method: 'POST', target: '/', headers: [['Host', 'localhost'], ['Cookie', cookie], ['Content-Type', 'multipart/form-data; boundary=B'], ['Content-Encoding', 'gzip']] },
      pieces,
      5_000,
    );
    assert.equal(res.status, 413);
    // Refused before its end: the rest is not received, the connection closed.
    assert.equal(res.headers.connection, 'close');
  });
});
