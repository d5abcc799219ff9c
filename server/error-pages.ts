/**
 * How the site answers a failed request: the shared error answers
 * (`web/error-answers.ts`) with the site's layout, JSON for the health check
 * and the dashboard's script paths, and the upload's own wording for a session that would grow too large.
 */
import type Koa from 'koa';
import type { Logger } from '../middleware/logger.ts';
import type { SecurityLog } from '../middleware/security-log.ts';
import { SessionTooLargeError } from '../middleware/session-too-large.ts';
import { answerErrors, exactBytes, type Problem } from '../web/error-answers.ts';
import type { AdminPaths } from '../admin/paths.ts';
import type { RenderPage } from './views.ts';

/**
 * The site's error pages. The upload is the only thing the site stores, so a
 * session too large to store is worded as a file too large.
 */
export function errorPages(logger: Logger, securityLog: SecurityLog, renderPage: RenderPage, adminPaths: AdminPaths): Koa.Middleware {
  return answerErrors({
    logger,
    securityLog,
    // The dashboard answers its own errors; one raised before it (the HTTPS check) must still be JSON on its API.
    wantsJson: (path) => path === '/healthz' || adminPaths.isForScripts(path),
    renderPage: (ctx, problem) => renderPage(ctx, 'error', problem.title, { status: problem.status, title: problem.title, message: problem.message }, problem.status),
    describe: uploadTooLarge,
  });
}

function uploadTooLarge(err: unknown): Problem | undefined {
  if (!(err instanceof SessionTooLargeError)) return undefined;
  return {
    status: 413,
    title: 'File too large',
    message:
      `This file is too large once stored in your session: it would take ${exactBytes(err.sizeBytes)}, and a session holds at most ${exactBytes(err.maxBytes)}. ` +
      'Nothing was stored; your previous upload, if any, is kept. Line breaks, quotes and control characters take more room stored than in the file.',
  };
}
