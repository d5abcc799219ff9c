/**
 * Oversized requests are refused early: headers beyond Node's 16 KB limit get
 * 431 before any middleware runs, and bodies beyond what a route accepts get
 * 413 as soon as their size is known, without the server waiting for (or
 * reading) the rest. Each request below announces a 50 MB body and sends a
 * few KB of it: an answer at all proves the server did not wait for the rest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { rawRequest, type RawRequest } from '../helpers/raw-http.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { Visitor } from '../helpers/visitor.ts';

const ANNOUNCED_BYTES = 50_000_000;
const SENT_BYTES = 4_096;
/** Far less than sending 50 MB, or than any server timeout, would take. */
const EARLY_MS = 2_000;

describe('oversized requests are refused early', () => {
  let site: ListeningTestApp;
  let port: number;
  before(async () => {
    site = await createTestApp('file', { listen: true });
    port = site.port;
  });
  after(() => site?.close());

  const host: [string, string] = ['Host', 'localhost'];

  for (const [name, headers, target] of [
    ['a 20 KB cookie', [['Cookie', `sid=${'a'.repeat(20_000)}`]], '/action'],
    ['a 20 KB URL', [], `/?q=${'a'.repeat(20_000)}`],
    ['a hundred 200-byte headers', Array.from({ length: 100 }, (_, i) => [`X-Filler-${i}`, 'x'.repeat(200)]), '/admin/api/sessions'],
  ] as [string, [string, string][], string][]) {
    test(`${name}: 431 from Node before the app sees it`, async () => {
      const res = await rawRequest(port, { method: 'GET', target, headers: [host, ...headers] });
      assert.equal(res.status, 431);
      assert.equal(site.logs.lines().filter((line) => (line.level as number) >= 50).length, 0, 'nothing for the app to log');
    });
  }

  const announcing = (target: string, contentType: string, extra: [string, string][] = []): RawRequest => ({
    method: 'POST',
    target,
    headers: [host, ['Content-Type', contentType], ['Content-Length', String(ANNOUNCED_BYTES)], ...extra],
    body: Buffer.alloc(SENT_BYTES, 'a'),
  });

  test('an upload announcing more than UPLOAD_MAX_BYTES: 413 at once, the connection closed, no session created', async () => {
    const res = await rawRequest(port, announcing('/', 'multipart/form-data; boundary=x'), EARLY_MS);
    assert.equal(res.status, 413);
    assert.match(res.body.toString('utf8'), /File too large/);
    assert.equal(res.headers.connection, 'close');
    assert.equal(res.headers['set-cookie'], undefined);
  });

  test('an upload sent in chunks, without a length: 413 once it passes UPLOAD_MAX_BYTES, not at its end', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const chunked = Buffer.concat([
      Buffer.from('--x\r\nContent-Disposition: form-data; name="textfile"; filename="big.txt"\r\n\r\n'),
      ...Array.from({ length: 40 }, () => chunk),
    ]);
    const body = Buffer.concat([Buffer.from(`${chunked.length.toString(16)}\r\n`), chunked, Buffer.from('\r\n')]);
    // 2.5 MB sent of a body that never ends: the answer comes when the limit (1 MiB) is passed.
    const res = await rawRequest(port, { method: 'POST', target: '/', headers: [host, ['Content-Type', 'multipart/form-data; boundary=x'], ['Transfer-Encoding', 'chunked']], body }, EARLY_MS);
    assert.equal(res.status, 413);
  });

  test('a dashboard form announcing 50 MB: 413 at once', async () => {
    const res = await rawRequest(port, announcing('/admin/login', 'application/x-www-form-urlencoded'), EARLY_MS);
    assert.equal(res.status, 413);
  });

  test('routes that take no body answer without reading one', async () => {
    const visitor = new Visitor(site.url);
    assert.equal(await visitor.upload('kept\n', 'k.txt'), 303);
    for (const [target, extra, status] of [
      ['/admin/api/purge-expired', [['Authorization', basicAuth()]], 200],
      ['/forget', [['Cookie', visitor.cookieHeader]], 303],
    ] as [string, [string, string][], number][]) {
      const res = await rawRequest(port, announcing(target, 'application/json', extra), EARLY_MS);
      assert.equal(res.status, status, target);
    }
  });
});
