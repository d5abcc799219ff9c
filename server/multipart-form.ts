/**
 * Parsing a multipart/form-data body that is already in memory (and so
 * already bounded) with busboy, under limits that fit a form with one file:
 * whatever the body holds, no name, header or field grows past a few KiB.
 */
import type { IncomingHttpHeaders } from 'node:http';
import busboy from 'busboy';

/** Fields a form may carry beside its file; their values are checked, then dropped. */
const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;
/** Fields and the file, plus a few parts without a name, which busboy skips. */
const MAX_PARTS = MAX_FIELDS + 5;
/** busboy's own default for field names; its multipart parser does not apply it, so it is checked here. */
const MAX_NAME_BYTES = 100;
/** Room for 255 characters of any script in UTF-8, the longest name common file systems allow. */
const MAX_FILE_NAME_BYTES = 1024;
/** busboy refuses a part whose header block passes 16 KiB ("Malformed part header"), whatever its pairs. */
const MAX_PART_HEADER_BYTES = 16 * 1024;

/**
 * What a multipart body may hold beside its file's bytes: its fields, and the
 * boundaries and headers of its parts. Added to the largest file, it is the
 * largest body worth reading.
 */
export const MAX_ENVELOPE_BYTES = MAX_FIELD_BYTES + MAX_PART_HEADER_BYTES;

/** One file part of a form. */
export interface FormFile {
  /** The form field it came in; undefined when the part has no name. */
  field: string | undefined;
  /** The name the browser sent, without any directories; undefined when it sent none. */
  fileName: string | undefined;
  bytes: Buffer;
}

/** Why a form was refused. */
export type FormRefusalReason = 'malformed' | 'too-many-files' | 'file-too-large' | 'too-many-fields' | 'field-too-large' | 'name-too-long' | 'file-name-too-long';

/** A form that breaks one of the limits or cannot be parsed; the caller words the answer. */
export class FormRefusal extends Error {
  constructor(readonly reason: FormRefusalReason) {
    super(`multipart form refused: ${reason}`);
    this.name = 'FormRefusal';
  }
}

/**
 * The file parts of a multipart/form-data `body` sent with `headers`, each of
 * at most `maxFileBytes`; plain fields are checked against the limits and
 * dropped. The first limit broken is the refusal, once the whole body has
 * been looked at: it is in memory already, so stopping early saves nothing.
 *
 * @throws FormRefusal for a body busboy cannot parse (no boundary, a part
 * header over 16 KiB, a form cut short) or that breaks a limit.
 */
export function parseMultipart(headers: IncomingHttpHeaders, body: Buffer, maxFileBytes: number): Promise<FormFile[]> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers,
        // Browsers send file names in UTF-8; busboy's default would read them as Latin-1.
        defParamCharset: 'utf8',
        // One byte over the limit is enough to know the file is too large.
        limits: { files: 1, fileSize: maxFileBytes + 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_PARTS },
      });
    } catch {
      reject(new FormRefusal('malformed'));
      return;
    }
    const files: FormFile[] = [];
    let refusal: FormRefusal | undefined;
    const refuse = (reason: FormRefusalReason) => {
      refusal ??= new FormRefusal(reason);
    };
    const checkName = (name: string | undefined) => {
      if (name !== undefined && Buffer.byteLength(name) > MAX_NAME_BYTES) refuse('name-too-long');
    };

    parser.on('file', (field, stream, info) => {
      checkName(field);
      if (info.filename !== undefined && Buffer.byteLength(info.filename) > MAX_FILE_NAME_BYTES) refuse('file-name-too-long');
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => refuse('file-too-large'));
      // A file cut short also fails the whole form, which is the error reported.
      stream.on('error', () => undefined);
      stream.on('end', () => files.push({ field, fileName: info.filename, bytes: Buffer.concat(chunks) }));
    });
    parser.on('field', (name, _value, info) => {
      checkName(name);
      if (info.valueTruncated) refuse('field-too-large');
    });
    parser.on('filesLimit', () => refuse('too-many-files'));
    parser.on('fieldsLimit', () => refuse('too-many-fields'));
    parser.on('partsLimit', () => refuse('too-many-fields'));
    parser.on('error', () => reject(refusal ?? new FormRefusal('malformed')));
    parser.on('close', () => (refusal ? reject(refusal) : resolve(files)));
    parser.end(body);
  });
}
