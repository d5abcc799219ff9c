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
import { bodyRefusalOf, incomplete, tooLarge } from '../web/body-refusal.ts';

export { BodyRefusal } from '../web/body-refusal.ts';

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
