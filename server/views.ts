import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';
import ejs from 'ejs';

/** The site's templates (the dashboard keeps its own under `views/admin/`). */
const VIEWS_DIR = fileURLToPath(new URL('../views/', import.meta.url));
const LAYOUT = `${VIEWS_DIR}layout.ejs`;

/** The site's pages, each a template in `views/` rendered inside the layout. */
export type SiteView = 'upload' | 'action' | 'error';

/**
 * Renders a page of the site inside the base layout and makes it the
 * response. Templates see only the locals given here, never the request.
 */
export async function renderPage(ctx: Context, view: SiteView, title: string, locals: Record<string, unknown>): Promise<void> {
  const html = await ejs.renderFile(LAYOUT, { title, view: `${view}.ejs`, page: locals }, { cache: true, async: false });
  ctx.type = 'html';
  ctx.body = html;
}
