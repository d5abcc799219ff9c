/**
 * Request bodies as hostile or unusual clients send them: chunked (no
 * Content-Length), compressed with a Content-Encoding, or streamed lazily from
 * a generator so that a 200 MB body never exists in the test's memory.
 */
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';

/** The Content-Encodings a server may be asked to decode, beside `identity`. */
export type BodyEncoding = 'gzip' | 'deflate' | 'br';

/** `body` compressed as `Content-Encoding: <encoding>` says (deflate is the zlib format HTTP means). */
export function compressed(body: Buffer, encoding: BodyEncoding): Buffer {
  if (encoding === 'gzip') return gzipSync(body);
  if (encoding === 'deflate') return deflateSync(body);
  return brotliCompressSync(body);
}

/** `body` in HTTP/1.1 chunked transfer coding, pieces of `chunkBytes`, with the closing empty chunk. */
export function chunked(body: Buffer, chunkBytes = 16 * 1024): Buffer {
  const pieces: Buffer[] = [];
  for (let at = 0; at < body.length; at += chunkBytes) pieces.push(chunkOf(body.subarray(at, at + chunkBytes)));
  pieces.push(LAST_CHUNK);
  return Buffer.concat(pieces);
}

const LAST_CHUNK = Buffer.from('0\r\n\r\n');

function chunkOf(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
}

/** What a streamed request got back. */
export interface StreamedAnswer {
  /** The answer's status, or 0 when the connection closed without one. */
  status: number;
  /** The answer's headers, names in lower case. */
  headers: Record<string, string>;
  /** Body bytes written to the socket before the answer arrived (or the connection closed). */
  bytesSent: number;
  /** Milliseconds from the first byte sent to the answer. */
  ms: number;
}

/** A request line and headers; `Transfer-Encoding: chunked` is added. The connection is kept alive unless they say otherwise. */
export interface StreamedRequest {
  method: string;
  target: string;
  headers: [string, string][];
}

/**
 * Sends a chunked request whose body is `pieces`, each pulled only when the
 * socket has room for it, and stops sending as soon as the answer's head
 * arrives or the server closes the connection: a server that refuses early is
 * never sent the rest. Rejects after `timeoutMs` without an answer.
 */
export function streamChunkedRequest(port: number, request: StreamedRequest, pieces: Iterable<Buffer>, timeoutMs: number): Promise<StreamedAnswer> {
  return new Promise((resolve, reject) => {
    const startedMs = Date.now();
    const socket = connect(port, '127.0.0.1');
    const source = pieces[Symbol.iterator]();
    let bytesSent = 0;
    let received = '';
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      outcome();
    };
    const answer = (status: number, headers: Record<string, string>) => settle(() => resolve({ status, headers, bytesSent, ms: Date.now() - startedMs }));
    const timer = setTimeout(() => settle(() => reject(new Error(`no answer within ${timeoutMs} ms, after ${bytesSent} body bytes sent`))), timeoutMs);

    // One piece per turn of the event loop, as a real client reads while it sends: a
    // server that drains its socket fast must not keep this loop from seeing the answer.
    const sendMore = () => {
      if (settled) return;
      const next = source.next();
      if (next.done) {
        socket.write(LAST_CHUNK);
        return;
      }
      bytesSent += next.value.length;
      if (socket.write(chunkOf(next.value))) setImmediate(sendMore);
      else socket.once('drain', sendMore);
    };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd >= 0) answer(...parseHead(received.slice(0, headEnd)));
    });
    // A server that refuses early may reset the connection while the client still writes: no answer is 0.
    socket.on('close', () => answer(0, {}));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      const head = [`${request.method} ${request.target} HTTP/1.1`, ...request.headers.map(([name, value]) => `${name}: ${value}`), 'Transfer-Encoding: chunked', '', ''];
      socket.write(head.join('\r\n'));
      sendMore();
    });
  });
}

/** The status and headers (names in lower case) of an answer's head. */
function parseHead(head: string): [number, Record<string, string>] {
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return [Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1] ?? 0), headers];
}

/** `totalBytes` bytes of `byte`, as pieces of at most `pieceBytes` that all share one buffer. */
export function* repeatedBytes(byte: string, totalBytes: number, pieceBytes = 64 * 1024): Generator<Buffer> {
  const piece = Buffer.alloc(pieceBytes, byte);
  for (let left = totalBytes; left > 0; left -= pieceBytes) yield left >= pieceBytes ? piece : piece.subarray(0, left);
}
