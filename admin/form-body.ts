import type { Context, Middleware } from 'koa';
import { koaBody } from 'koa-body';
import { bodyRefusalOf } from '../web/body-refusal.ts';
import { closeUnreadBody } from '../web/close-unread-body.ts';

/**
 * The largest form body the dashboard buffers: its forms carry a token and a
 * few short fields. co-body counts the bytes as they arrive (after
 * decompression), so a chunked or compressed body is held to it too.
 */
const FORM_MAX_BYTES = 16 * 1024;

/**
 * Parses the dashboard's small urlencoded forms; nothing else (no JSON, no
 * uploads). A body the client got wrong is a 4xx with a message, not a
 * failure of the server: 413 over FORM_MAX_BYTES, 415 for a Content-Encoding
 * other than gzip, deflate or br, 400 for one that does not decompress or a
 * body cut short. The rest of a body refused before its end is not read: the
 * connection is closed instead.
 */
const parseOwnForm: Middleware = koaBody({
  urlencoded: true,
  json: false,
  multipart: false,
  text: false,
  formLimit: FORM_MAX_BYTES,
  onError: (err, ctx) => {
    const refusal = bodyRefusalOf(err);
    if (!refusal) throw err;
    closeUnreadBody(ctx);
    throw refusal;
  },
});

/**
 * The form parser of the dashboard's routes. A host app may have parsed the
 * body already (a body parser mounted before the dashboard): the stream is
 * then used up, and its parsed fields are taken as they are.
 */
export const parseForm: Middleware = (ctx, next) => {
  const parsedByHost = ctx.req.readableEnded && typeof ctx.request.body === 'object' && ctx.request.body !== null;
  return parsedByHost ? next() : parseOwnForm(ctx, next);
};

/** One text field of a parsed form, or undefined. */
export function formField(ctx: Context, name: string): string | undefined {
  const body = ctx.request.body as Record<string, unknown> | undefined;
  const value = body?.[name];
  return typeof value === 'string' ? value : undefined;
}
