/** How the dashboard answers a failed request: a page for people, JSON for the API and the event stream. */
import type { Context } from 'koa';
import type { Logger } from '../middleware/logger.ts';
import type { SecurityLog } from '../middleware/security-log.ts';
import { errorTitleOf, wantsJson } from '../server/error-answers.ts';
import type { Render } from '../server/views.ts';

interface HttpLikeError {
  status?: number;
  expose?: boolean;
  message?: string;
  headers?: Record<string, string>;
}

/**
 * Runs a dashboard handler and turns its errors into answers: a page for the
 * HTML routes, `{ "error": "…" }` for the API, with the error's status (400,
 * 401, 403, 404, 429, 503) and headers (Retry-After, WWW-Authenticate).
 * Anything unexpected is logged and answered 500 without details; a refusal
 * that is a security event (a CSRF or origin check) is logged at warn.
 */
export async function answerErrors(ctx: Context, logger: Logger, securityLog: SecurityLog, render: Render, handler: () => Promise<void>): Promise<void> {
  try {
    await handler();
  } catch (caught) {
    securityLog.warnIfRefusal(caught, ctx);
    const err = (caught ?? {}) as HttpLikeError;
    const status = typeof err.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    const exposed = (err.expose ?? status < 500) && typeof err.message === 'string';
    if (!exposed) logger.error({ err: caught, path: ctx.path }, 'admin request failed');
    const message = exposed ? err.message! : 'Something went wrong on the server; the error has been logged.';
    for (const [name, value] of Object.entries(err.headers ?? {})) ctx.set(name, value);
    if (wantsJson(ctx.path)) {
      ctx.status = status;
      ctx.body = { error: message };
    } else {
      await render(ctx, 'error', { title: errorTitleOf(status), status, message }, status);
    }
  }
}
