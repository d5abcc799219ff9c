import { Writable } from 'node:stream';
import type Koa from 'koa';
import { koaBody, type ScalarOrArrayFiles } from 'koa-body';
import { formatBytes } from './format.ts';
import { PageError } from './page-error.ts';

/** The form field that carries the file (SPEC.md: `textfile`). */
export const UPLOAD_FIELD = 'textfile';

/** Form fields beside the file are ignored, but bounded: a form is not a place to post data. */
const MAX_FIELDS = 20;
const MAX_FIELDS_BYTES = 64 * 1024;

/** One file as formidable hands it over. */
type FormFile = Extract<ScalarOrArrayFiles[string], { size: number }>;

/** The file of an upload: its bytes and the name the browser gave. */
export interface UploadedFile {
  /** The last segment of the name the browser sent; shown escaped, never used as a path. */
  fileName: string;
  /** The file's contents. */
  bytes: Buffer;
}

/** The bytes received for each file of a request, until the route reads them. */
const receivedChunks = new WeakMap<object, Buffer[]>();

/** What a multipart body may carry beside the file: its fields and the headers and boundaries of its parts. */
const MAX_ENVELOPE_BYTES = MAX_FIELDS_BYTES + 16 * 1024;

/**
 * Parses a multipart upload of at most `maxBytes` into memory: the text ends
 * up in the session anyway, and an upload that never touches the disk leaves
 * no temporary file behind, whatever goes wrong. Only multipart bodies are
 * parsed; formidable's limit errors become pages with fitting statuses. A body
 * whose Content-Length is already too large is refused before any of it is
 * read, and its connection closed, so a client cannot hold the request open
 * by announcing a huge upload and sending it slowly.
 */
export function parseUpload(maxBytes: number): Koa.Middleware {
  const parse = formParser(maxBytes);
  return async (ctx, next) => {
    if (Number(ctx.get('Content-Length')) > maxBytes + MAX_ENVELOPE_BYTES) {
      ctx.set('Connection', 'close');
      throw tooLarge(maxBytes);
    }
    await parse(ctx, next);
  };
}

function formParser(maxBytes: number): Koa.Middleware {
  return koaBody({
    multipart: true,
    json: false,
    urlencoded: false,
    text: false,
    formidable: {
      maxFiles: 1,
      maxFileSize: maxBytes,
      maxTotalFileSize: maxBytes,
      // Missing and empty files get their own messages in uploadedFileOf.
      allowEmptyFiles: true,
      minFileSize: 0,
      maxFields: MAX_FIELDS,
      maxFieldsSize: MAX_FIELDS_BYTES,
      fileWriteStreamHandler: (file) => {
        const chunks: Buffer[] = [];
        receivedChunks.set(file!, chunks);
        return new Writable({
          write(chunk: Buffer, _encoding, done) {
            chunks.push(chunk);
            done();
          },
        });
      },
    },
    onError: (err) => {
      throw refusalOf(err, maxBytes);
    },
  });
}

/**
 * The file the upload form sent, after `parseUpload`.
 *
 * @throws PageError 400 when no file was chosen, the file is empty, or it came in another field.
 */
export function uploadedFileOf(ctx: Koa.Context): UploadedFile {
  const files = ctx.request.files ?? {};
  if (Object.keys(files).some((field) => field !== UPLOAD_FIELD)) {
    throw new PageError(400, 'Unexpected form', `The file must be sent in the form field "${UPLOAD_FIELD}"; nothing was stored.`);
  }
  const sent = files[UPLOAD_FIELD];
  const file: FormFile | undefined = Array.isArray(sent) ? sent[0] : sent;
  // A browser sends a nameless, empty part when the form is submitted without a file.
  if (!file || (file.size === 0 && !file.originalFilename)) {
    throw new PageError(400, 'No file chosen', 'Choose a text file to upload, then send the form again.');
  }
  if (file.size === 0) {
    throw new PageError(400, 'Empty file', 'The file is empty, so there is nothing to show; nothing was stored.');
  }
  return { fileName: displayName(file.originalFilename), bytes: Buffer.concat(receivedChunks.get(file) ?? [], file.size) };
}

/** The last path segment of the name the browser sent, bounded; shown escaped, never used as a path. */
function displayName(originalFilename: string | null): string {
  const name = (originalFilename ?? '').split(/[\\/]/).at(-1)!.trim();
  return name ? name.slice(0, 255) : 'unnamed file';
}

/** formidable's code for a form with more files than `maxFiles`, which it also tags 413. */
const MAX_FILES_EXCEEDED = 1015;

/** formidable tags its errors with an `httpCode` that Koa does not read. */
function refusalOf(err: Error & { httpCode?: unknown; code?: unknown }, maxBytes: number): Error {
  if (typeof err.httpCode !== 'number') return err;
  if (err.code === MAX_FILES_EXCEEDED) {
    return new PageError(400, 'One file at a time', 'Choose a single text file to upload; nothing was stored.');
  }
  if (err.httpCode === 413) return tooLarge(maxBytes);
  return new PageError(400, 'Unreadable upload', 'The upload could not be read as a form with one file; nothing was stored.');
}

function tooLarge(maxBytes: number): PageError {
  const exactly = maxBytes >= 1024 ? ` (${maxBytes.toLocaleString('en-US')} bytes)` : '';
  return new PageError(413, 'File too large', `This site accepts one file of at most ${formatBytes(maxBytes)}${exactly}; nothing was stored.`);
}
