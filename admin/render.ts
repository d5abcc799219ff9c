/** The dashboard's templates (`views/admin/`) and what every one of them sees. */
import * as sharedFormat from '../server/format.ts';
import { createRenderer, type Render } from '../server/views.ts';
import * as dashboardFormat from './format.ts';

/**
 * The renderer of `views/admin/*.ejs`. Every template gets the formatters as
 * `format` (the shared ones and the dashboard's own) and `signedIn`
 * (undefined unless given); templates escape every value (`<%=`).
 */
export function createDashboardRenderer(options: { cacheTemplates: boolean }): Render {
  return createRenderer({
    viewsDir: new URL('../views/admin/', import.meta.url),
    cacheTemplates: options.cacheTemplates,
    defaults: { format: { ...sharedFormat, ...dashboardFormat }, signedIn: undefined },
  });
}
