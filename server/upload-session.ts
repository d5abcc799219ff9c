import type { Context } from 'koa';

/** What the site keeps in a visitor's session (under the key `upload`). */
export interface StoredUpload {
  /** The name the browser gave the file. */
  fileName: string;
  /** The file's text as uploaded (without a byte-order mark): one string, so its JSON stays close to the file's size. */
  text: string;
  /** The size of the file as uploaded. */
  sizeBytes: number;
  /** ISO 8601. */
  uploadedAt: string;
}

/** Replaces the upload this session holds. */
export function storeUpload(ctx: Context, upload: StoredUpload): void {
  ctx.session!.upload = upload;
}

/**
 * The upload this session holds, if any (a value of another shape counts as
 * none). A session stored before uploads were kept as text holds `lines`
 * instead: they are joined back into one text.
 */
export function storedUploadOf(ctx: Context): StoredUpload | undefined {
  const upload = ctx.session?.upload as (Partial<StoredUpload> & { lines?: unknown }) | undefined;
  if (!upload || typeof upload.fileName !== 'string') return undefined;
  if (typeof upload.text === 'string') return upload as StoredUpload;
  if (Array.isArray(upload.lines) && upload.lines.every((line) => typeof line === 'string')) {
    return { fileName: upload.fileName, text: upload.lines.join('\n'), sizeBytes: Number(upload.sizeBytes) || 0, uploadedAt: String(upload.uploadedAt) };
  }
  return undefined;
}
