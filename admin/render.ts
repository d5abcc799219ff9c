import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Context } from 'koa';
import * as format from './format.ts';

const VIEWS_DIR = fileURLToPath(new URL('../views/admin/', import.meta.url));

/** Renders a dashboard template as the response. */
export type Render = (ctx: Context, view: string, locals: Record<string, unknown>, status?: number) => Promise<void>;

/**
 * The renderer of `views/admin/*.ejs`. Every template gets the formatting
 * helpers as `format`; templates escape every value (`<%=`).
 */
export function createRenderer(options: { cacheTemplates: boolean }): Render {
  return async (ctx, view, locals, status = 200) => {
    const html = await ejs.renderFile(join(VIEWS_DIR, `${view}.ejs`), { format, signedIn: undefined, ...locals }, { cache: options.cacheTemplates });
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = html;
  };
}
