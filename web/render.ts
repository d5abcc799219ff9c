/**
 * EJS templates rendered as HTML responses, with one caching rule for the
 * site's pages and the dashboard's. Templates see only the locals given to
 * them, never the request.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Context } from 'koa';

/** Renders the template `view` (a name in the renderer's folder, never client input) as the response, with a status (200 unless given). */
export type Render = (ctx: Context, view: string, locals: Record<string, unknown>, status?: number) => Promise<void>;

/** Where a renderer finds its templates and what they all see. */
export interface RendererOptions {
  /** The folder of the templates. */
  viewsDir: URL;
  /** Keep compiled templates in memory (production); otherwise each render reads its file, so edits show at once. */
  cacheTemplates: boolean;
  /** Locals every template gets; a render's own locals win. */
  defaults?: Record<string, unknown>;
}

/** A renderer of the templates in one folder. */
export function createRenderer({ viewsDir, cacheTemplates, defaults = {} }: RendererOptions): Render {
  const dir = fileURLToPath(viewsDir);
  return async (ctx, view, locals, status = 200) => {
    const html = await ejs.renderFile(join(dir, `${view}.ejs`), { ...defaults, ...locals }, { cache: cacheTemplates });
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = html;
  };
}
