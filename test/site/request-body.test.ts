/**
 * readRequestBody when the client goes away halfway: whether the body is
 * compressed or not, the read ends with a 400 refusal at once rather than
 * waiting forever for bytes that will never come (a decoder piped from the
 * request does not see the request end early by itself).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { BodyRefusal, readRequestBody } from '../../server/request-body.ts';
import { compressed } from '../helpers/request-bodies.ts';

const LIMIT_BYTES = 64 * 1024;
const SETTLE_TIMEOUT_MS = 2_000;

describe('readRequestBody and a client that goes away', () => {
  let server: Server;
  let port: number;
  /** How the next request's read ended: the refusal, or 'read' when it got a body. */
  let outcome: Promise<unknown>;
  before(async () => {
    server = createServer();
    server.on('request', (req: IncomingMessage) => {
      outcome = readRequestBody(req, LIMIT_BYTES).then(
        () => 'read',
        (err: unknown) => err,
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  for (const encoding of ['identity', 'gzip', 'br'] as const) {
    test(`${encoding}: a body cut short ends the read with 400`, async () => {
      const whole = encoding === 'identity' ? Buffer.alloc(10_000, 'a') : compressed(Buffer.alloc(10_000, 'a'), encoding);
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.write(`POST / HTTP/1.1\r\nHost: localhost\r\nContent-Encoding: ${encoding}\r\nContent-Length: ${whole.length}\r\n\r\n`);
      socket.write(whole.subarray(0, whole.length >> 1));
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      const timeout = new Promise((resolve) => setTimeout(() => resolve('still waiting'), SETTLE_TIMEOUT_MS));
      const ended = await Promise.race([outcome, timeout]);
      assert.ok(ended instanceof BodyRefusal, `the read ended with a refusal, not: ${String(ended)}`);
      assert.equal(ended.status, 400);
      assert.equal(ended.reason, 'incomplete');
    });
  }
});
