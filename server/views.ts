/** The site's pages: templates in `views/`, each rendered inside the layout. */
import type { Context } from 'koa';
import { sessionOwner } from '../middleware/index.ts';
import { createRenderer } from '../web/render.ts';

/** The site's pages, each a template in `views/` rendered inside the layout. */
export type SiteView = 'upload' | 'action' | 'sessions' | 'error';

/** Renders a page of the site inside the layout as the response. */
export type RenderPage = (ctx: Context, view: SiteView, title: string, locals: Record<string, unknown>, status?: number) => Promise<void>;

/**
 * The renderer of the site's pages (the dashboard's templates have their own, in `admin/render.ts`). The layout
 * and the page both see `signedInAs`: the owner of the visitor's session, or undefined.
 */
export function createPageRenderer(options: { cacheTemplates: boolean }): RenderPage {
  const render = createRenderer({ viewsDir: new URL('../views/', import.meta.url), cacheTemplates: options.cacheTemplates });
  return (ctx, view, title, locals, status) => {
    const signedInAs = sessionOwner(ctx);
    return render(ctx, 'layout', { title, view: `${view}.ejs`, signedInAs, page: { signedInAs, ...locals } }, status);
  };
}
