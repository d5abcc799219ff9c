import type Koa from 'koa';
import type { Logger } from '../middleware/logger.ts';
import type { SecurityLog } from '../middleware/security-log.ts';
import { SessionTooLargeError } from '../middleware/session-too-large.ts';
import { StoreUnavailableError } from '../middleware/store.ts';
import { errorTitleOf, wantsJson } from './error-answers.ts';
import { formatBytes } from './format.ts';
import { PageError } from './page-error.ts';
import type { RenderPage } from './views.ts';

/** What the visitor is told: never a stack trace or an internal message. */
interface Problem {
  status: number;
  title: string;
  message: string;
  headers?: Record<string, string>;
}

/**
 * Turns every error below it, and every empty 4xx/5xx response (404, 405),
 * into a clear page with the right status (JSON for the paths scripts use:
 * see `wantsJson`). A store that does not answer gives 503; the store guard has
 * logged that once already. A session too large to store gives 413: the upload
 * is the only thing the site stores, so the page speaks of the file. Anything
 * unexpected gives 500 and is logged here with the request it broke.
 */
export function errorPages(logger: Logger, securityLog: SecurityLog, renderPage: RenderPage): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // Headers already set (Allow on a 405) stay.
      if (ctx.status >= 400 && ctx.body == null) await respond(ctx, renderPage, { status: ctx.status, title: errorTitleOf(ctx.status), message: messageOf(ctx.status) });
    } catch (err) {
      if (ctx.headerSent) {
        logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed after the response started');
        return;
      }
      securityLog.warnIfRefusal(err, ctx);
      const problem = problemOf(err);
      if (problem.status >= 500 && !(err instanceof StoreUnavailableError)) {
        logger.error({ err, method: ctx.method, path: ctx.path, status: problem.status }, 'request failed');
      }
      await respond(ctx, renderPage, problem);
    }
  };
}

function problemOf(err: unknown): Problem {
  if (err instanceof StoreUnavailableError) {
    return {
      status: 503,
      title: 'Sessions are unavailable',
      message: `The ${err.storeKind} session store is not answering right now, so this page cannot be shown. Please try again in a moment.`,
    };
  }
  if (err instanceof SessionTooLargeError) {
    return {
      status: 413,
      title: 'File too large',
      message:
        `This file is too large once stored in your session: it would take ${exactBytes(err.sizeBytes)}, and a session holds at most ${exactBytes(err.maxBytes)}. ` +
        'Nothing was stored; your previous upload, if any, is kept. Line breaks, quotes and control characters take more room stored than in the file.',
    };
  }
  if (err instanceof PageError) return { status: err.status, title: err.title, message: err.message };
  const { status, expose, message, headers } = (err ?? {}) as { status?: unknown; expose?: unknown; message?: unknown; headers?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return {
      status,
      title: errorTitleOf(status),
      message: expose === true && typeof message === 'string' ? message : messageOf(status),
      headers: typeof headers === 'object' && headers ? (headers as Record<string, string>) : undefined,
    };
  }
  return { status: 500, title: errorTitleOf(500), message: messageOf(500) };
}

/** `2 MiB (2,097,152 bytes)`: rounded sizes alone could make a refused size read the same as the limit. */
function exactBytes(bytes: number): string {
  return `${formatBytes(bytes)} (${bytes.toLocaleString('en-US')} bytes)`;
}

function messageOf(status: number): string {
  if (status === 404) return 'There is no page at this address.';
  if (status === 405) return 'This address does not accept that kind of request.';
  if (status >= 500) return 'The server could not handle this request. The error has been logged; please try again later.';
  return 'The request could not be handled.';
}

async function respond(ctx: Koa.Context, renderPage: RenderPage, problem: Problem): Promise<void> {
  ctx.status = problem.status;
  // A route may have redirected before the session failed to save: an error page goes nowhere else.
  ctx.remove('Location');
  for (const [name, value] of Object.entries(problem.headers ?? {})) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  if (wantsJson(ctx.path)) {
    ctx.body = { error: problem.message };
    return;
  }
  await renderPage(ctx, 'error', problem.title, { status: problem.status, title: problem.title, message: problem.message }, problem.status);
}
