/**
 * A session whose data is larger than `SESSION_MAX_BYTES` allows was not
 * stored: the store still holds the version before it, or nothing for a new
 * session. `status` 413 and `expose` are defaults for Koa's error handling; an
 * app that wants another answer catches the error around the session
 * middleware, which throws it when it saves the session after the routes.
 */
export class SessionTooLargeError extends Error {
  /** Koa's status for the answer (Payload Too Large), unless the app catches the error. */
  status = 413;
  /** Koa's convention: the message is meant for the client. */
  expose = true;

  /**
   * @param sizeBytes the size of the refused session data, as UTF-8 JSON.
   * @param maxBytes the limit it exceeded (`SESSION_MAX_BYTES`).
   */
  constructor(readonly sizeBytes: number, readonly maxBytes: number) {
    super(`The session was not stored: its data is ${sizeBytes} bytes as JSON, more than the ${maxBytes} bytes SESSION_MAX_BYTES allows`);
    this.name = 'SessionTooLargeError';
  }
}
