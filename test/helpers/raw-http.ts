/**
 * HTTP/1.1 over a bare socket, for hostile-input tests: any bytes in the
 * request line, headers and body (clients like fetch refuse to send them),
 * and the answer as raw as it came, including when the server answers before
 * the body has been sent.
 */
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** Sent as is: may contain anything but CR and LF. */
  target: string;
  headers: [string, string][];
  body?: Buffer;
  /** Bytes of the body to actually send (the rest is never sent): for bodies refused early. Default all. */
  sendBytes?: number;
}

export interface RawResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", " (set-cookie with "\n"). */
  headers: Record<string, string>;
  body: Buffer;
  /** Milliseconds from sending to the end of the answer. */
  ms: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * Sends one request on a new connection (`Connection: close`) and reads the
 * answer until the server closes it. Event streams end the read at their headers.
 */
export function rawRequest(port: number, request: RawRequest, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const startedMs = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms to ${request.method} ${request.target.slice(0, 200)}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      try {
        resolve({ ...parseResponse(Buffer.concat(chunks)), ms: Date.now() - startedMs });
      } catch (err) {
        reject(err);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A stream that never ends: its headers are the answer.
      if (/content-type: text\/event-stream/i.test(Buffer.concat(chunks).toString('latin1').split('\r\n\r\n')[0] ?? '')) socket.destroy();
    });
    socket.on('close', finish);
    // The server may answer and close before the body is sent: that is an answer, not an error.
    socket.on('error', () => undefined);
    const head = [`${request.method} ${request.target} HTTP/1.1`, ...request.headers.map(([name, value]) => `${name}: ${value}`), 'Connection: close', '', ''].join('\r\n');
    socket.write(Buffer.from(head, 'latin1'));
    if (request.body) socket.write(request.body.subarray(0, request.sendBytes ?? request.body.length));
  });
}

function parseResponse(raw: Buffer): Omit<RawResponse, 'ms'> {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`not an HTTP answer: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const [statusLine, ...lines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  if (!status) throw new Error(`not an HTTP status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}${name === 'set-cookie' ? '\n' : ', '}${value}` : value;
  }
  let body = raw.subarray(headEnd + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status, headers, body };
}

/** The payload of a chunked body; a body cut short (an event stream) keeps what arrived. */
function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
