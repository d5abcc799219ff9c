/**
 * Bodies far larger than any route accepts, sent chunked (so no
 * Content-Length announces them) and shaped to hit a parser where it buffers:
 * a multipart part whose field name is 200 MB, a 200 MB urlencoded sign-in
 * form. Each is refused with 413 (or 400) once the route's limit is passed,
 * the client stops sending, and the server's peak resident memory barely
 * moves. The server runs in a child process so that its memory is its own.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mib } from '../helpers/memory.ts';
import { repeatedBytes, streamChunkedRequest, type StreamedRequest } from '../helpers/request-bodies.ts';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';

const BOMB_BYTES = 200_000_000;
/** Far below the 600 MB a parser that collects the bomb takes. */
const MAX_PEAK_GROWTH_BYTES = 64 * 1024 * 1024;
/** Refused at about 1 MB, a bomb leaves the client within milliseconds; sending it all would take seconds. */
const ANSWER_TIMEOUT_MS = 30_000;
/** What the client may have sent before the answer reached it: the limit plus what socket buffers hold. */
const MAX_BYTES_SENT = 32 * 1024 * 1024;

/** The child's peak resident set size so far (VmHWM), in bytes. */
function peakResidentBytes(pid: number): number {
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
  assert.ok(kib, 'VmHWM in /proc/<pid>/status');
  return Number(kib) * 1024;
}

/** The bomb of the security review: a first part whose field name never ends, then a normal file part. */
function* fieldNameBomb(): Generator<Buffer> {
  yield Buffer.from('--B\r\nContent-Disposition: form-data; name="');
  yield* repeatedBytes('f', BOMB_BYTES);
  yield Buffer.from('"\r\n\r\nx\r\n--B\r\n');
  yield Buffer.from('Content-Disposition: form-data; name="textfile"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\n\r\n--B--\r\n');
}

function* loginFormBomb(): Generator<Buffer> {
  yield Buffer.from('user=admin&password=');
  yield* repeatedBytes('p', BOMB_BYTES);
}

describe('chunked body bombs', () => {
  let namespace: StoreNamespace;
  let server: ServerProcess;
  let port: number;
  before(async () => {
    namespace = await createNamespace('file');
    server = await startServerProcess(namespace);
    port = Number(new URL(server.url).port);
  });
  after(async () => {
    await server?.stop();
    await namespace?.remove();
  });

  /** Sends the bomb and checks the answer, what was sent and how the server's peak memory moved. */
  async function assertRefusedFlat(t: TestContext, request: StreamedRequest, bomb: Iterable<Buffer>): Promise<void> {
    const pid = server.child.pid!;
    const peakBefore = peakResidentBytes(pid);
    const answer = await streamChunkedRequest(port, request, bomb, ANSWER_TIMEOUT_MS);
    const growth = peakResidentBytes(pid) - peakBefore;
    const figures = `status ${answer.status} after ${mib(answer.bytesSent)} sent in ${answer.ms} ms; peak RSS ${mib(peakBefore)} → +${mib(growth)}`;
    t.diagnostic(figures);
    assert.ok([400, 413].includes(answer.status), figures);
    // The client asked to keep the connection: the server closes it rather than receive the rest.
    assert.equal(answer.headers.connection, 'close', figures);
    assert.ok(answer.bytesSent < MAX_BYTES_SENT, `the server answered before the client sent everything: ${figures}`);
    assert.ok(growth < MAX_PEAK_GROWTH_BYTES, `the server's peak memory stays flat: ${figures}`);
    assert.deepEqual(
      server.logs.filter((line) => (line.level ?? 0) >= 50),
      [],
      'a refused body is not a server error',
    );
  }

  test('an upload whose first part has a 200 MB field name: refused early, memory flat', async (t) => {
    await assertRefusedFlat(t, { method: 'POST', target: '/', headers: [['Host', 'localhost'], ['Content-Type', 'multipart/form-data; boundary=B']] }, fieldNameBomb());
  });

  test('a 200 MB sign-in form: refused early, memory flat', async (t) => {
    await assertRefusedFlat(
      t,
      { method: 'POST', target: '/admin/login', headers: [['Host', 'localhost'], ['Content-Type', 'application/x-www-form-urlencoded']] },
      loginFormBomb(),
    );
  });
});
