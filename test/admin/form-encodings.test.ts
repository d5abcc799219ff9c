/**
 * The dashboard's forms sent compressed or chunked. A body that does not
 * decompress is 400, an encoding the server does not decode 415, a body over
 * the forms' limit 413 however it is sent (chunked, or compressed small and
 * decoding large); each answers with a page that says so and is not logged
 * as a server error. A valid gzip form still signs in.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { csrfTokenIn } from '../helpers/dashboard-client.ts';
import { compressed, streamChunkedRequest, type BodyEncoding } from '../helpers/request-bodies.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../helpers/test-settings.ts';

const ENCODINGS: BodyEncoding[] = ['gzip', 'deflate', 'br'];
const FORM = 'application/x-www-form-urlencoded';
/** supertest would serialize a Buffer sent as a urlencoded form, as if it were an object: this keeps its bytes. */
const bytesAsTheyAre = (body: unknown) => body as string;

describe('dashboard forms with a Content-Encoding or without a length', () => {
  let site: ListeningTestApp;
  let server: Server;
  let port: number;
  let operator: request.Agent;
  let csrf: string;
  before(async () => {
    site = await createTestApp('file', { listen: true });
    ({ httpServer: server, port } = site);
    operator = request.agent(server);
    csrf = await site.signIn(operator);
  });
  after(() => site.close());

  function assertNoErrorLogged(): void {
    const errors = site.logs.lines().filter((line) => line.level! >= 50);
    assert.deepEqual(errors, [], 'no error-level log line');
  }

  for (const encoding of ENCODINGS) {
    test(`${encoding} that does not decompress: 400 on the sign-in form and on a signed-in form`, async () => {
      const garbage = Buffer.from('this is not compressed at all');
      const login = await request(server).post('/admin/login').set('Content-Type', FORM).set('Content-Encoding', encoding).serialize(bytesAsTheyAre).send(garbage);
      assert.equal(login.status, 400);
      assert.match(login.text, /does not decompress/);

      const whole = compressed(Buffer.from(`csrf=${csrf}`), encoding);
      const purge = await operator
        .post('/admin/purge-expired')
        .set('Content-Type', FORM)
        .set('Content-Encoding', encoding)
        .serialize(bytesAsTheyAre)
        .send(whole.subarray(0, whole.length >> 1));
      assert.equal(purge.status, 400);
      assert.match(purge.text, /does not decompress/);
      assertNoErrorLogged();
    });
  }

  test('an encoding the server does not decode: 415', async () => {
    for (const encoding of ['compress', 'x-unknown']) {
      const res = await operator.post('/admin/purge-expired').set('Content-Type', FORM).set('Content-Encoding', encoding).send(`csrf=${csrf}`);
      assert.equal(res.status, 415, encoding);
      assert.match(res.text, /does not decode/);
    }
    assertNoErrorLogged();
  });

  test('a gzip form that decodes to more than the limit: 413', async () => {
    const res = await request(server).post('/admin/login').set('Content-Type', FORM).set('Content-Encoding', 'gzip').serialize(bytesAsTheyAre).send(gzipSync(`user=${'u'.repeat(1_000_000)}`));
    assert.equal(res.status, 413);
    assertNoErrorLogged();
  });

  test('a chunked sign-in form over the limit: 413 and the connection closed', async () => {
    const pieces = [Buffer.from('user=admin&password='), ...Array.from({ length: 16 }, () => Buffer.alloc(4096, 'p'))];
    const res = await streamChunkedRequest(port, { method: 'POST', target: '/admin/login', headers: [['Host', 'localhost'], ['Content-Type', FORM]] }, pieces, 5_000);
    assert.equal(res.status, 413);
    // Refused before its end: the rest is not received, the connection closed.
    assert.equal(res.headers.connection, 'close');
    assertNoErrorLogged();
  });

  test('a valid gzip sign-in form signs in', async () => {
    const agent = request.agent(server);
    const page = await agent.get('/admin/login').expect(200);
    const form = new URLSearchParams({ csrf: csrfTokenIn(page.text), user: ADMIN_USER, password: ADMIN_PASSWORD }).toString();
    await agent.post('/admin/login').set('Content-Type', FORM).set('Content-Encoding', 'gzip').serialize(bytesAsTheyAre).send(gzipSync(form)).expect(303).expect('Location', '/admin');
    await agent.get('/admin').expect(200);
  });
});
