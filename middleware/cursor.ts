/**
 * Cursors for the session list: the sort value and id of the last session of a
 * page. Pages continue strictly after that pair, so no session repeats or is
 * skipped while the set is unchanged, whatever the store.
 */
export interface CursorPosition {
  /** The sort value (ms) of the last session returned. */
  score: number;
  /** Its id, which breaks ties between equal scores. */
  id: string;
}

/** Encodes a position as an opaque URL-safe string. */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(`${position.score}:${position.id}`, 'utf8').toString('base64url');
}

/** Thrown for a cursor that was not made by `encodeCursor`. */
export class InvalidCursorError extends Error {
  /** Koa's status for the answer: the caller's mistake, not the store's. */
  readonly status = 400;
  /** Koa's convention: the message is meant for the client. */
  readonly expose = true;
  constructor() {
    super('The cursor is not valid: pass the nextCursor of the previous page, or none for the first page.');
    this.name = 'InvalidCursorError';
  }
}

const CURSOR_PATTERN = /^(\d{1,16}):([A-Za-z0-9_-]{1,128})$/;

/** Decodes a cursor, rejecting anything `encodeCursor` could not have made. */
export function decodeCursor(cursor: string): CursorPosition {
  if (cursor.length > 256 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError();
  const match = CURSOR_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new InvalidCursorError();
  return { score: Number(match[1]), id: match[2]! };
}
