/**
 * Closing the connection of a request whose body was refused before its end,
 * without losing the refusal on the way.
 *
 * The rest of a refused body is never read into memory: the answer says
 * `Connection: close`, and Node ends the socket once the answer is flushed.
 * But Node then destroys the socket at once, and closing a socket whose
 * request bytes are still unread makes the kernel send a reset. A client that
 * is still sending its body (a browser uploading a file too large) meets the
 * reset on its next write and may drop the answer it had not read yet: it
 * shows "connection reset" instead of the 413. So, as web servers do (nginx's
 * and Apache's "lingering close"), the socket is half-closed after the answer
 * and what still arrives is read and thrown away, for at most LINGER_MS and
 * LINGER_MAX_BYTES, and only then destroyed. Memory stays flat: nothing
 * discarded is kept.
 */
import type { Context } from 'koa';

/** Time enough for a client to read the answer and stop sending. */
const LINGER_MS = 2_000;
/** A client that keeps sending at full speed is cut off after this much. */
const LINGER_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Marks the answer `Connection: close` when the request's body was not read to
 * its end, and makes the socket linger after the answer (see above). A body
 * read whole needs neither: the connection stays usable.
 */
export function closeUnreadBody(ctx: Context): void {
  const { req } = ctx;
  if (req.complete) return;
  ctx.set('Connection', 'close');
  const { socket } = req;
  // Node's server calls destroySoon() on a `Connection: close` socket once the answer is flushed.
  socket.destroySoon = () => {
    socket.end();
    let discardedBytes = 0;
    const stop = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(stop, LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
    // The body reaches the socket's HTTP parser and then the request: let it flow there, to nowhere.
    req.unpipe();
    req.on('data', (chunk: Buffer) => {
      discardedBytes += chunk.length;
      if (discardedBytes > LINGER_MAX_BYTES) stop();
    });
    req.once('end', stop);
    req.once('error', stop);
    socket.once('end', stop);
    req.resume();
  };
}
