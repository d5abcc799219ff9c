/**
 * What a visitor of the upload site sends and sees: exact multipart bodies
 * as a browser builds them, the session cookies an answer set, and the lines
 * the action page shows.
 */
import type request from 'supertest';

/** The `sid` and `sid.sig` cookies a response set, as a Cookie request header. */
export function cookieHeaderOf(res: request.Response): string {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const pairs = cookies.filter((c) => c.startsWith('sid=') || c.startsWith('sid.sig=')).map((c) => c.split(';')[0]);
  if (pairs.length !== 2) throw new Error(`expected sid and sid.sig cookies, got ${JSON.stringify(cookies)}`);
  return pairs.join('; ');
}

/** One part of a multipart form: a file when `filename` is given (even empty), else a plain field. */
export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: string | Buffer;
}

/** A multipart/form-data body with exactly these bytes, as a browser sends it. */
export function multipartBody(parts: FormPart[]): { contentType: string; body: Buffer } {
  const boundary = `----sessionkeeper-test-${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`;
    const type = part.filename === undefined ? '' : `Content-Type: ${part.contentType ?? 'text/plain'}\r\n`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`), Buffer.from(part.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

/** The upload form with one file in the `textfile` field. */
export function textFileForm(data: string | Buffer, filename = 'notes.txt'): { contentType: string; body: Buffer } {
  return multipartBody([{ name: 'textfile', filename, data }]);
}

/** The visible text of each numbered line on the action page, HTML entities decoded. */
export function shownLines(html: string): string[] {
  const list = /<ol class="lines">([\s\S]*?)<\/ol>/.exec(html)?.[1];
  if (list === undefined) return [];
  return [...list.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((match) => decodeEntities(match[1]!));
}

function decodeEntities(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|#39|#34);/g, (_, name: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', '#39': "'", '#34': '"' })[name]!);
}
