import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linesOf, textOf } from '../../server/text-lines.ts';
import { PageError } from '../../web/page-error.ts';

const utf8 = (text: string) => Buffer.from(text, 'utf8');
/** What the site shows of an uploaded file: its text, decoded and checked, split into lines. */
const linesOfFile = (bytes: Uint8Array) => linesOf(textOf(bytes));

test('splits on LF and CRLF, keeping whitespace and blank lines', () => {
  assert.deepEqual(linesOfFile(utf8('a\nb\r\nc')), ['a', 'b', 'c']);
  assert.deepEqual(linesOfFile(utf8('  two spaces\n\ttab\t\n\n  \nend')), ['  two spaces', '\ttab\t', '', '  ', 'end']);
});

test('one final line break ends the last line; more make blank lines', () => {
  assert.deepEqual(linesOfFile(utf8('a\n')), ['a']);
  assert.deepEqual(linesOfFile(utf8('a\r\n')), ['a']);
  assert.deepEqual(linesOfFile(utf8('a\n\n')), ['a', '']);
  assert.deepEqual(linesOfFile(utf8('\n')), ['']);
});

test('a lone CR stays inside its line', () => {
  assert.deepEqual(linesOfFile(utf8('a\rb\n')), ['a\rb']);
});

test('a UTF-8 byte-order mark is not part of the first line; other text is kept as is', () => {
  assert.deepEqual(linesOfFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('first\n')])), ['first']);
  assert.deepEqual(linesOfFile(utf8('naïve café 😀 <b>&amp;</b>\n')), ['naïve café 😀 <b>&amp;</b>']);
});

test('bytes that are not UTF-8 are refused with 415', () => {
  const invalid = [
    [0xff],
    [0xc0, 0xaf], // overlong '/'
    [0xed, 0xa0, 0x80], // an encoded UTF-16 surrogate
    [0xe2, 0x82], // truncated
    [0xff, 0xfe, 0x61, 0x00], // UTF-16LE with BOM
    [...Buffer.from('caf'), 0xe9], // Latin-1 é
  ];
  for (const bytes of invalid) {
    assert.throws(() => textOf(Buffer.from(bytes)), (err: unknown) => err instanceof PageError && err.status === 415 && /not valid UTF-8/.test(err.message), `bytes ${bytes}`);
  }
});

test('a NUL byte anywhere is refused with 415', () => {
  for (const text of ['\0', 'a\0b', 'line\n\0\n']) {
    assert.throws(() => textOf(utf8(text)), (err: unknown) => err instanceof PageError && err.status === 415 && /NUL/.test(err.message));
  }
});
