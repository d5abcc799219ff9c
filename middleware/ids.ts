import { hash, randomFillSync } from 'node:crypto';

/** Raw session ids: 32 bytes from the CSPRNG, base64url (43 characters). */
const RAW_ID_BYTES = 32;
const RAW_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const PUBLIC_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Random bytes for the next ids, drawn from the CSPRNG 256 ids at a time: one draw per id cost a system call
 * each (~10 µs, the largest item of a new session's profile: bench/README.md). Node's own randomUUID pools
 * its randomness the same way. Each id's bytes are used once.
 */
const idPool = Buffer.alloc(RAW_ID_BYTES * 256);
let idPoolOffset = idPool.length;

/** A new raw session id, the value the signed cookie carries. Never log it. */
export function newSessionId(): string {
  if (idPoolOffset === idPool.length) {
    randomFillSync(idPool);
    idPoolOffset = 0;
  }
  const id = idPool.toString('base64url', idPoolOffset, idPoolOffset + RAW_ID_BYTES);
  idPoolOffset += RAW_ID_BYTES;
  return id;
}

/** True when a cookie value has the shape of an id we issued (checked before any store read). */
export function isWellFormedSessionId(value: unknown): value is string {
  return typeof value === 'string' && RAW_ID_PATTERN.test(value);
}

/**
 * The public id of a session: SHA-256 of the raw id, base64url. Stores key
 * sessions by it and logs, the dashboard and the API name sessions by it; it
 * cannot be turned back into a cookie.
 */
export function publicIdOf(rawId: string): string {
  // The one-shot hash: a quarter of the cost of createHash().update().digest(), which builds a Hash object.
  return hash('sha256', rawId, 'base64url');
}

/** True when a value (an operator's input, say) has the shape of a public id. */
export function isWellFormedPublicId(value: unknown): value is string {
  return typeof value === 'string' && PUBLIC_ID_PATTERN.test(value);
}
