/**
 * A request body the client got wrong, in the words the client is told: the
 * refusal both body readers share (the site's upload reader and the
 * dashboard's form parser), whatever library raised the error underneath.
 */

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

/** The refusal of a body over its limit. */
export function tooLarge(): BodyRefusal {
  return new BodyRefusal(413, 'too-large', 'The request body is larger than this address accepts; nothing was changed.');
}

/** The refusal of a body that ended before it was complete. */
export function incomplete(): BodyRefusal {
  return new BodyRefusal(400, 'incomplete', 'The request body ended before it was complete; nothing was changed.');
}

