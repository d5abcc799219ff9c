/** The dashboard's templates (`views/admin/`) and what every one of them sees. */
import * as sharedFormat from '../web/format.ts';
import { createRenderer, type Render } from '../web/render.ts';
import * as dashboardFormat from './format.ts';
import type { AdminPaths } from './paths.ts';

/**
 * The renderer of `views/admin/*.ejs`, found beside this module (also when
 * installed under `node_modules`). Every template gets the formatters as
 * `format` (the shared ones and the dashboard's own), the dashboard's
 * addresses as `paths` and `signedIn` (undefined unless given); templates
 * escape every value (`<%=`).
 */
export function createDashboardRenderer(options: { cacheTemplates: boolean; paths: AdminPaths }): Render {
  return createRenderer({
    viewsDir: new URL('../views/admin/', import.meta.url),
    cacheTemplates: options.cacheTemplates,
    defaults: { format: { ...sharedFormat, ...dashboardFormat }, paths: options.paths, signedIn: undefined },
  });
}
