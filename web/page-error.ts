/**
 * A refusal the visitor can act on: its status, a short title for the page
 * heading, and a sentence that says what went wrong and what to do.
 */
export class PageError extends Error {
  /** Koa's convention: the message is meant for the client. */
  readonly expose = true;

  /**
   * @param status the HTTP status of the answer.
   * @param title the page heading.
   * @param message what went wrong and what to do, in a sentence or two.
   */
  constructor(readonly status: number, readonly title: string, message: string) {
    super(message);
    this.name = 'PageError';
  }
}
