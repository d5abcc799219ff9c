import type { Context } from 'koa';

/** What the site keeps in a visitor's session (under the key `upload`). */
export interface StoredUpload {
  /** The name the browser gave the file. */
  fileName: string;
  /** The file's lines, line breaks removed. */
  lines: string[];
  /** The size of the file as uploaded. */
  sizeBytes: number;
  /** ISO 8601. */
  uploadedAt: string;
}

/** Replaces the upload this session holds. */
export function storeUpload(ctx: Context, upload: StoredUpload): void {
  ctx.session!.upload = upload;
}

/** The upload this session holds, if any (a value of another shape counts as none). */
export function storedUploadOf(ctx: Context): StoredUpload | undefined {
  const upload = ctx.session?.upload as Partial<StoredUpload> | undefined;
  if (!upload || !Array.isArray(upload.lines) || typeof upload.fileName !== 'string') return undefined;
  return upload as StoredUpload;
}
