import { createHash, randomBytes } from 'node:crypto';

/** Raw session ids: 32 bytes from the CSPRNG, base64url (43 characters). */
const RAW_ID_BYTES = 32;
const RAW_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const PUBLIC_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A new raw session id, the value the signed cookie carries. Never log it. */
export function newSessionId(): string {
  return randomBytes(RAW_ID_BYTES).toString('base64url');
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
  return createHash('sha256').update(rawId, 'utf8').digest('base64url');
}

/** True when a value (an operator's input, say) has the shape of a public id. */
export function isWellFormedPublicId(value: unknown): value is string {
  return typeof value === 'string' && PUBLIC_ID_PATTERN.test(value);
}
