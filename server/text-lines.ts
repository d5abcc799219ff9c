import { PageError } from '../web/page-error.ts';

/** Line breaks of text files from any platform; a lone `\r` stays in its line. */
const LINE_BREAK = /\r\n|\n/;

/**
 * The text of an uploaded file, exactly as written, without a UTF-8
 * byte-order mark.
 *
 * @throws PageError 415 when the bytes are not UTF-8 or contain a NUL byte
 *   (a binary file, or text in another encoding).
 */
export function textOf(bytes: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw notText('It is not valid UTF-8: save it as UTF-8 text and try again.');
  }
  if (text.includes('\0')) throw notText('It contains NUL bytes, so it looks like a binary file rather than text.');
  return text;
}

/**
 * The lines of a text, for display: whitespace and blank lines kept, line
 * breaks removed. A text that ends with a line break has no extra empty line
 * after it.
 */
export function linesOf(text: string): string[] {
  const lines = text.split(LINE_BREAK);
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines;
}

function notText(reason: string): PageError {
  return new PageError(415, 'Not a text file', `The file was not stored. ${reason}`);
}
