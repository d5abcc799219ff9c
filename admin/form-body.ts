import type { Context, Middleware } from 'koa';
import { koaBody } from 'koa-body';

/** Parses the dashboard's small urlencoded forms; nothing else (no JSON, no uploads). */
export const parseForm: Middleware = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });

/** One text field of a parsed form, or undefined. */
export function formField(ctx: Context, name: string): string | undefined {
  const body = ctx.request.body as Record<string, unknown> | undefined;
  const value = body?.[name];
  return typeof value === 'string' ? value : undefined;
}
