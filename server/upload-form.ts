import type Koa from 'koa';
import { formatBytes } from '../web/format.ts';
import { closeUnreadBody } from '../web/close-unread-body.ts';
import { FormRefusal, type FormFile, type FormRefusalReason, MAX_ENVELOPE_BYTES, parseMultipart } from './multipart-form.ts';
import { PageError } from '../web/page-error.ts';
import { BodyRefusal, readRequestBody } from './request-body.ts';

/** The form field that carries the file. */
export const UPLOAD_FIELD = 'textfile';

/** The file of an upload: its bytes and the name the browser gave. */
export interface UploadedFile {
  /** The last segment of the name the browser sent; shown escaped, never used as a path. */
  fileName: string;
  /** The file's contents. */
  bytes: Buffer;
}

/** The file parts of each request's form, until the route reads them. */
const parsedFiles = new WeakMap<Koa.Context, FormFile[]>();

/**
 * Reads an upload of at most `maxBytes` into memory and parses it: the text
 * ends up in the session anyway, and an upload that never touches the disk
 * leaves no temporary file behind, whatever goes wrong. Only multipart bodies
 * are parsed (any other has no file, which `uploadedFileOf` says). This is the
 * largest body the site buffers: `maxBytes` plus MAX_ENVELOPE_BYTES (80 KiB),
 * counted as it arrives and after decompression, so 1 MiB + 80 KiB with the
 * default UPLOAD_MAX_BYTES. A body refused before its end is not read further
 * and its connection is closed, so a client cannot hold the request open by
 * sending a huge upload slowly.
 */
export function parseUpload(maxBytes: number): Koa.Middleware {
  const limitBytes = maxBytes + MAX_ENVELOPE_BYTES;
  return async (ctx, next) => {
    try {
      const body = await readRequestBody(ctx.req, limitBytes);
      parsedFiles.set(ctx, ctx.is('multipart') ? await parseMultipart(ctx.req.headers, body, maxBytes) : []);
    } catch (err) {
      closeUnreadBody(ctx);
      throw refusalOf(err, maxBytes);
    }
    await next();
  };
}

/**
 * The file the upload form sent, after `parseUpload`.
 *
 * @throws PageError 400 when no file was chosen, the file is empty, or it came in another field.
 */
export function uploadedFileOf(ctx: Koa.Context): UploadedFile {
  const files = parsedFiles.get(ctx) ?? [];
  if (files.some((file) => file.field !== UPLOAD_FIELD)) {
    throw new PageError(400, 'Unexpected form', `The file must be sent in the form field "${UPLOAD_FIELD}"; nothing was stored.`);
  }
  const file = files[0];
  // A browser sends a nameless, empty part when the form is submitted without a file.
  if (!file || (file.bytes.length === 0 && !file.fileName)) {
    throw new PageError(400, 'No file chosen', 'Choose a text file to upload, then send the form again.');
  }
  if (file.bytes.length === 0) {
    throw new PageError(400, 'Empty file', 'The file is empty, so there is nothing to show; nothing was stored.');
  }
  return { fileName: displayName(file.fileName), bytes: file.bytes };
}

/** The last path segment of the name the browser sent, bounded; shown escaped, never used as a path. */
function displayName(sentName: string | undefined): string {
  const name = (sentName ?? '').split(/[\\/]/).at(-1)!.trim();
  return name ? name.slice(0, 255) : 'unnamed file';
}

/** The page for a body or form the visitor sent wrong; anything else is the server's fault and stays as it is. */
function refusalOf(err: unknown, maxBytes: number): unknown {
  if (err instanceof BodyRefusal) {
    if (err.reason === 'too-large') return tooLarge(maxBytes);
    if (err.reason === 'unsupported-encoding') {
      return new PageError(415, 'Unsupported encoding', 'Send the upload uncompressed, or compressed with gzip, deflate or br; nothing was stored.');
    }
    if (err.reason === 'corrupt-encoding') {
      return new PageError(400, 'Unreadable upload', 'The upload is compressed but does not decompress; nothing was stored.');
    }
    return new PageError(400, 'Upload interrupted', 'The upload ended before it was complete; nothing was stored.');
  }
  if (err instanceof FormRefusal) return formRefusalPage(err.reason, maxBytes);
  return err;
}

function formRefusalPage(reason: FormRefusalReason, maxBytes: number): PageError {
  switch (reason) {
    case 'file-too-large':
      return tooLarge(maxBytes);
    case 'too-many-files':
      return new PageError(400, 'One file at a time', 'Choose a single text file to upload; nothing was stored.');
    case 'file-name-too-long':
      return new PageError(400, 'File name too long', "The file's name is too long; rename the file and upload it again. Nothing was stored.");
    case 'field-too-large':
      return new PageError(413, 'Form too large', 'The form carries more text beside the file than the upload form sends; nothing was stored.');
    case 'too-many-fields':
    case 'name-too-long':
      return new PageError(400, 'Unexpected form', 'The form carries more, or longer, fields than the upload form sends; nothing was stored.');
    case 'malformed':
      return new PageError(400, 'Unreadable upload', 'The upload could not be read as a form with one file; nothing was stored.');
  }
}

function tooLarge(maxBytes: number): PageError {
  const exactly = maxBytes >= 1024 ? ` (${maxBytes.toLocaleString('en-US')} bytes)` : '';
  return new PageError(413, 'File too large', `This site accepts one file of at most ${formatBytes(maxBytes)}${exactly}; nothing was stored.`);
}
