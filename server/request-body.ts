/**
 * Reading a request body whole, within a limit that counts the bytes that
 * actually arrive: neither a chunked body (no Content-Length) nor a compressed
 * one (Content-Encoding) can make the server buffer more than the limit. The
 * site's upload reads its body here; the dashboard's forms read theirs through
 * koa-body, and both turn the same errors into the same client refusals.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import inflate from 'inflation';
import getRawBody from 'raw-body';

/** Why a body was refused. */
export type BodyRefusalReason = 'too-large' | 'unsupported-encoding' | 'corrupt-encoding' | 'incomplete';

/** A body the client got wrong: a 4xx with a message meant for it, never logged as a failure of the server. */
export class BodyRefusal extends Error {
  /** Koa's convention: the message is meant for the client. */
  readonly expose = true;

  /**
   * @param status 413 too large, 415 an encoding the server does not decode, 400 otherwise.
   * @param reason what went wrong, for callers that word their own answer.
   * @param message what went wrong, in a sentence for the client.
   */
  constructor(
    readonly status: 400 | 413 | 415,
    readonly reason: BodyRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'BodyRefusal';
  }
}

/**
 * The body of `req`, decoded from its Content-Encoding (identity, gzip,
 * deflate or br), of at most `limitBytes` both as received and as decoded. A
 * Content-Length over the limit is refused before anything is read; otherwise
 * the bytes are counted as they arrive and reading stops once the limit is
 * passed. The rest of a refused body stays unread: the caller should close the
 * connection (`Connection: close`) rather than receive it.
 *
 * @throws BodyRefusal 413 over the limit, 415 for another encoding, 400 for a
 * body that does not decompress or a client that went away before its end.
 */
export async function readRequestBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  if (Number(req.headers['content-length']) > limitBytes) throw tooLarge();
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let decoded: Readable;
  try {
    decoded = inflate(req, { encoding });
  } catch (err) {
    throw bodyRefusalOf(err) ?? err;
  }
  // Anything but the request itself is the zlib decoder it is piped into.
  const stopWatching = decoded === req ? () => undefined : watchEncodedBody(req, decoded as Duplex, limitBytes);
  try {
    // An identity body must match its Content-Length; a decoded one has no announced length.
    return await getRawBody(decoded, { limit: limitBytes, length: decoded === req ? req.headers['content-length'] : undefined });
  } catch (err) {
    throw bodyRefusalOf(err) ?? err;
  } finally {
    stopWatching();
  }
}

/**
 * The refusal an error of inflation, raw-body or zlib stands for, or undefined
 * when it is not the client's doing (a fault of the server, to be logged).
 */
export function bodyRefusalOf(err: unknown): BodyRefusal | undefined {
  if (err instanceof BodyRefusal) return err;
  const { status, type, code } = (err ?? {}) as { status?: unknown; type?: unknown; code?: unknown };
  if (type === 'entity.too.large') return tooLarge();
  if (type === 'request.aborted' || type === 'request.size.invalid') return incomplete();
  // inflation's only error: an encoding it does not decode.
  if (status === 415) {
    return new BodyRefusal(415, 'unsupported-encoding', 'The request body is sent with a Content-Encoding this server does not decode: send it uncompressed, or as gzip, deflate or br.');
  }
  // zlib's codes start with Z_; the brotli decoder's with ERR__ERROR_ (ERR_ and the decoder's own _ERROR_… name).
  if (typeof code === 'string' && /^(Z_|ERR__ERROR_)/.test(code)) {
    return new BodyRefusal(400, 'corrupt-encoding', 'The request body does not decompress as its Content-Encoding says; nothing was changed.');
  }
  return undefined;
}

function tooLarge(): BodyRefusal {
  return new BodyRefusal(413, 'too-large', 'The request body is larger than this address accepts; nothing was changed.');
}

function incomplete(): BodyRefusal {
  return new BodyRefusal(400, 'incomplete', 'The request body ended before it was complete; nothing was changed.');
}

/**
 * What raw-body cannot see through a decoder: the bytes that arrive (empty
 * gzip members decode to nothing, so a body of them would never reach the
 * limit) and a client that goes away (the decoder would wait for the rest
 * forever). Either destroys the decoder with the refusal, which raw-body then
 * reports. Returns the clean-up, which also detaches the decoder from `req`.
 */
function watchEncodedBody(req: IncomingMessage, decoder: Duplex, limitBytes: number): () => void {
  let receivedBytes = 0;
  const onData = (chunk: Buffer) => {
    receivedBytes += chunk.length;
    if (receivedBytes > limitBytes) decoder.destroy(tooLarge());
  };
  const onClose = () => {
    if (!req.complete) decoder.destroy(incomplete());
  };
  req.on('data', onData);
  req.on('close', onClose);
  return () => {
    req.off('data', onData);
    req.off('close', onClose);
    req.unpipe(decoder);
    decoder.destroy();
  };
}
