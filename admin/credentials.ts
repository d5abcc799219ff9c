import { createHash, timingSafeEqual } from 'node:crypto';

/** A user name and password as a client sent them. */
export interface Credentials {
  /** The user name (ADMIN_USER). */
  user: string;
  /** The password (ADMIN_PASSWORD); never logged. */
  password: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Compares two secrets in constant time. Both sides are hashed first, so the
 * comparison always runs over 32 bytes and neither the length nor a common
 * prefix of the expected value leaks through timing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** True when both the user name and the password match; both are always compared. */
export function credentialsMatch(given: Credentials, expected: Credentials): boolean {
  const userMatches = secretsEqual(given.user, expected.user);
  const passwordMatches = secretsEqual(given.password, expected.password);
  return userMatches && passwordMatches;
}

/**
 * Reads an `Authorization: Basic …` header. Returns undefined when the header
 * is absent, another scheme, or not `user:password` in base64.
 */
export function parseBasicAuthorization(header: string | undefined): Credentials | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header?.trim() ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
