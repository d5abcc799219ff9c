/**
 * Oversized requests are refused early: headers beyond Node's 16 KB limit get
 * 431 before any middleware runs, and bodies beyond what a route accepts get
 * 413 as soon as their size is known, without the server waiting for (or
 * reading) the rest. Each request below announces a 50 MB body and sends a
 * few KB of it: an answer at all proves the server did not wait for the rest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
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

  /**
   * A socket that announces a 50 MB upload and has sent `burstBytes` of it,
   * reading nothing yet; `received()` then reads everything until it closes,
   * and says whether it ended in an error (a reset). `keepSending`: the
   * socket goes on after the server's end of the connection (half-open), as a
   * client that ignores the answer would.
   */
  async function uploadingSocket(target: string, contentType: string, burstBytes: number, keepSending = false) {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: keepSending });
    socket.pause();
    let error: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => { error = err.code; });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(`POST ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${contentType}\r\nContent-Length: ${ANNOUNCED_BYTES}\r\n\r\n`);
    socket.write(Buffer.alloc(burstBytes, 'a'));
    const chunks: Buffer[] = [];
    const received = async () => {
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.resume();
      await closed;
      return { text: Buffer.concat(chunks).toString('latin1'), error };
    };
    return { socket, received, isOpen: () => !socket.destroyed };
  }

  for (const [route, target, contentType] of [
    ['the upload', '/', 'multipart/form-data; boundary=x'],
    ['a dashboard form', '/admin/login', 'application/x-www-form-urlencoded'],
  ] as const) {
    test(`${route}: a client still sending after the 413 reads it (the server lingers, it does not reset the connection)`, async () => {
      // 2 MB sent, well past the limit; the server answers and closes its side meanwhile.
      const { socket, received, isOpen } = await uploadingSocket(target, contentType, 2 * 1024 * 1024);
      await sleep(200);
      // Still sending, as a browser mid-upload is: unread bytes at a closed socket would draw a reset here.
      for (let i = 0; i < 8 && isOpen(); i += 1) {
        socket.write(Buffer.alloc(64 * 1024, 'b'));
        await sleep(10);
      }
      const started = Date.now();
      const { text, error } = await received();
      assert.match(text, /^HTTP\/1\.1 413 /, `the answer arrives whole (${error ?? 'no error'})`);
      assert.match(text, /\r\nConnection: close\r\n/i);
      assert.ok(Date.now() - started < 3_000, 'the server still closes the connection soon after');
    });
  }

  test('a client that never stops sending is cut off after the linger, not served forever', async () => {
    const { socket, received, isOpen } = await uploadingSocket('/admin/login', 'application/x-www-form-urlencoded', 64 * 1024, true);
    const started = Date.now();
    let sent = 0;
    const answer = received();
    while (isOpen() && Date.now() - started < 10_000) {
      sent += 64 * 1024;
      socket.write(Buffer.alloc(64 * 1024, 'c'));
      await sleep(1);
    }
    const { text } = await answer;
    const ms = Date.now() - started;
    assert.match(text, /^HTTP\/1\.1 413 /);
    // Read on for a while (16 MiB, or 2 s at a slower pace), then cut off.
    assert.ok(sent > 1024 * 1024, `the server read on after its answer: ${sent} bytes in ${ms} ms`);
    assert.ok(ms < 5_000, `closed ${ms} ms after the refusal, ${sent} bytes later`);
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
