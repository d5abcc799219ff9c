/**
 * Strict percent-decoding for owners and names. Koa's query parser and
 * URLSearchParams decode a malformed escape (`%E0`, an encoded lone surrogate)
 * leniently, to U+FFFD or to the escape as it was sent, so a broken request would
 * name another owner than the one it meant; the routes that take an owner refuse
 * it instead.
 */

/** True when every key and value of a urlencoded string (a query string, a form body) is valid percent-encoded UTF-8. */
export function isStrictlyEncoded(encoded: string): boolean {
  try {
    for (const pair of encoded.split('&')) decodeURIComponent(pair.replaceAll('+', ' '));
    return true;
  } catch {
    return false;
  }
}

/** `bytes` as UTF-8 text, or undefined when they are not valid UTF-8. */
export function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
