import Router from '@koa/router';
import { endSession, type OwnerSessions, type SessionkeeperConfig } from '../middleware/index.ts';
import { formatBytes, formatDurationLong, formatTime } from '../web/format.ts';
import { requireSameOrigin } from '../web/same-origin.ts';
import { addOwnerRoutes } from './owner-routes.ts';
import { linesOf, textOf } from './text-lines.ts';
import { parseUpload, uploadedFileOf, UPLOAD_FIELD } from './upload-form.ts';
import { storedUploadOf, storeUpload, type StoredUpload } from './upload-session.ts';
import type { ServerSettings } from './settings.ts';
import type { RenderPage } from './views.ts';

/**
 * The upload site: a visitor uploads a text file, sees its lines, and can
 * forget the session; signed in with a display name, they see and end the
 * other sessions of that name (`owners`, the running sessionkeeper). Every
 * page is built from the visitor's session, so none may be cached.
 */
export function siteRoutes(config: SessionkeeperConfig, server: ServerSettings, renderPage: RenderPage, owners: OwnerSessions): Router {
  const router = new Router();
  const limits = {
    maxSize: formatBytes(server.uploadMaxBytes),
    idleTtl: formatDurationLong(config.idleTtlMs),
    absoluteTtl: config.absoluteTtlMs > 0 ? formatDurationLong(config.absoluteTtlMs) : undefined,
  };

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  router.get('/', async (ctx) => {
    const upload = storedUploadOf(ctx);
    await renderPage(ctx, 'upload', 'Upload a text file', {
      field: UPLOAD_FIELD,
      ...limits,
      upload: upload && describe(upload, linesOf(upload.text).length),
      forgotten: ctx.query.forgotten === '1',
    });
  });

  router.post('/', requireSameOrigin, parseUpload(server.uploadMaxBytes), async (ctx) => {
    const file = uploadedFileOf(ctx);
    // The text, not its lines: an array of short lines stores several times the file's size as JSON.
    storeUpload(ctx, { fileName: file.fileName, text: textOf(file.bytes), sizeBytes: file.bytes.length, uploadedAt: new Date().toISOString() });
    ctx.status = 303;
    ctx.redirect('/action');
  });

  router.get('/action', async (ctx) => {
    const upload = storedUploadOf(ctx);
    const lines = upload ? linesOf(upload.text) : [];
    await renderPage(ctx, 'action', upload ? upload.fileName : 'Nothing uploaded yet', { upload: upload && describe(upload, lines.length), lines });
  });

  router.post('/forget', requireSameOrigin, async (ctx) => {
    endSession(ctx, 'user');
    ctx.status = 303;
    ctx.redirect('/?forgotten=1');
  });

  addOwnerRoutes(router, owners, renderPage);
  return router;
}

/** What the pages say about an upload, beside its lines. */
function describe(upload: StoredUpload, lineCount: number): { fileName: string; lineCount: number; size: string; uploadedAt: string; uploadedAtIso: string } {
  return {
    fileName: upload.fileName,
    lineCount,
    size: formatBytes(upload.sizeBytes),
    uploadedAt: formatTime(upload.uploadedAt),
    uploadedAtIso: upload.uploadedAt,
  };
}
