/**
 * What the hostile-input properties throw at the server, and what no answer
 * may ever contain. Values mix fast-check's random text with strings known to
 * break naive code: SQL and Redis syntax, path traversal, markup, template
 * syntax, header injection, odd encodings.
 */
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import type { RawResponse } from '../helpers/raw-http.ts';

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

export const NASTY_STRINGS = [
  "' OR '1'='1", "'; DROP TABLE sessionkeeper_sessions; --", '" OR ""="', "1' UNION SELECT data FROM pg_tables --", '$1', '\\',
  '%', '_', '*', '?', '[a-z]', 'sessionkeeper:*', '\r\nFLUSHALL\r\n', '*1\r\n$8\r\nFLUSHALL\r\n',
  '../../etc/passwd', '..\\..\\windows\\win.ini', '/etc/passwd', '%2e%2e%2f%2e%2e%2f', '..%00', '\u0000', 'CON', 'NUL.txt',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: template syntax sent as data is the point
  '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', '{{7*7}}', '<%= process.env %>', '${7*7}',
  '__proto__', 'constructor', 'toString', 'A'.repeat(43), '-'.repeat(43), '😀', '\u202Etxt.exe', '\uFEFF', 'ÿ', '%ff%fe',
  '1e309', '-1', 'NaN', '9'.repeat(40), '', ' ',
];

/** One nasty string, or random text of any Unicode. */
export const hostileText = fc.oneof(fc.constantFrom(...NASTY_STRINGS), fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }));

const latin1 = (min: number, max: number) => fc.integer({ min, max }).map((code) => String.fromCharCode(code));

/**
 * Text a header line can carry as latin1 bytes: mostly printable, sometimes
 * with control characters (which Node itself refuses with 400), never CR or LF.
 */
export const headerValue = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_STRINGS.filter((s) => !/[\r\n]/.test(s) && [...s].every((c) => c.charCodeAt(0) < 256))) },
  { weight: 3, arbitrary: fc.string({ unit: fc.oneof(latin1(0x20, 0x7e), latin1(0x80, 0xff)), maxLength: 120 }) },
  { weight: 1, arbitrary: fc.string({ unit: latin1(0, 0xff).filter((c) => c !== '\n' && c !== '\r'), maxLength: 120 }) },
);

/** A URL-encoded form of hostile text, raw bytes percent-encoded (invalid UTF-8 included). */
export const urlText = fc.oneof(
  hostileText.map((text) => encodeURIComponent(text)),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@/%?#'.split('')), maxLength: 30 }),
);

/** A query string of hostile names and values. */
export const queryString = fc.array(fc.tuple(urlText, urlText), { maxLength: 4 }).map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));

/** Fails when an answer shows a stack trace, a file path of the repository or an error class name. */
export function assertNothingLeaks(res: RawResponse, what: string): void {
  const text = `${JSON.stringify(res.headers)}\n${res.body.toString('latin1')}`;
  assert.doesNotMatch(text, /\n\s+at\s+\S/, `${what}: a stack trace`);
  assert.ok(!text.includes(REPO_DIR) && !text.includes('node_modules'), `${what}: a path of the server's files`);
  assert.doesNotMatch(text, /\b(?:Type|Range|Reference|Syntax|URI|Internal)Error\b/, `${what}: an error class`);
}
