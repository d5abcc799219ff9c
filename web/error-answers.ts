/**
 * The one place that decides how a failed request is answered, for the site
 * and for the dashboard alike: its status, whether the client gets a page or
 * JSON, what it is told (never a stack trace or an internal message) and what
 * is logged. Each app supplies only its page template, the paths its scripts
 * use and the wording of errors it knows better.
 */
import { STATUS_CODES } from 'node:http';
import type Koa from 'koa';
import type { Logger } from '../middleware/logger.ts';
import type { SecurityLog } from '../middleware/security-log.ts';
import { SessionTooLargeError } from '../middleware/session-too-large.ts';
import { StoreUnavailableError } from '../middleware/store.ts';
import { formatBytes } from './format.ts';
import { PageError } from './page-error.ts';

/** What the client is told about a failed request. */
export interface Problem {
  status: number;
  /** The page heading. */
  title: string;
  /** What went wrong and what to do, for the client. */
  message: string;
  /** Headers the answer must carry (Retry-After, WWW-Authenticate, Allow). */
  headers?: Record<string, string>;
}

/** How one app answers its failed requests. */
export interface ErrorAnswerOptions {
  logger: Logger;
  /** Where refusals that are security events (a CSRF or origin check) are logged. */
  securityLog: SecurityLog;
  /** True for paths whose clients are scripts or `EventSource`, not people: they get `{ "error": "…" }`, never a page. */
  wantsJson: (path: string) => boolean;
  /** Writes a problem as the app's error page (the status is already set). */
  renderPage: (ctx: Koa.Context, problem: Problem) => Promise<void>;
  /** The app's own wording for an error it knows better than the generic one; undefined keeps the generic one. */
  describe?: (err: unknown) => Problem | undefined;
}

/** Error page headings, in words a visitor or an operator reads; other statuses use Node's reason phrase. */
const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Refused',
  404: 'Page not found',
  405: 'Method not allowed',
  413: 'Too large',
  429: 'Too many attempts',
  500: 'Something went wrong',
  503: 'Service unavailable',
};

/** The heading of the error page for an HTTP status. */
function errorTitleOf(status: number): string {
  return TITLES[status] ?? STATUS_CODES[status] ?? (status < 500 ? 'Request refused' : 'Server error');
}

/**
 * Turns every error below it, and every empty 4xx/5xx response (404, 405),
 * into an answer with the right status: a page, or JSON for the paths scripts
 * use. A store that does not answer gives 503 (the store guard has logged it
 * once already); anything unexpected gives 500 and is logged here with the
 * request it broke.
 */
export function answerErrors(options: ErrorAnswerOptions): Koa.Middleware {
  const { logger, securityLog } = options;
  return async function errorAnswers(ctx, next) {
    try {
      await next();
      // Headers already set (Allow on a 405) stay.
      if (ctx.status >= 400 && ctx.body == null) await respond(ctx, options, { status: ctx.status, title: errorTitleOf(ctx.status), message: messageOf(ctx.status) });
    } catch (err) {
      if (ctx.headerSent) {
        logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed after the response started');
        return;
      }
      securityLog.warnIfRefusal(err, ctx);
      const problem = options.describe?.(err) ?? problemOf(err);
      if (problem.status >= 500 && !(err instanceof StoreUnavailableError)) {
        logger.error({ err, method: ctx.method, path: ctx.path, status: problem.status }, 'request failed');
      }
      await respond(ctx, options, problem);
    }
  };
}

/** What the client is told about an error: its own message only when the error says it is meant for the client. */
function problemOf(err: unknown): Problem {
  if (err instanceof StoreUnavailableError) {
    return {
      status: 503,
      title: 'Sessions are unavailable',
      message: `The ${err.storeKind} session store is not answering right now, so this request cannot be answered. Please try again in a moment.`,
    };
  }
  if (err instanceof SessionTooLargeError) {
    return {
      status: 413,
      title: 'Session too large',
      message: `This would make the session ${exactBytes(err.sizeBytes)}, and a session holds at most ${exactBytes(err.maxBytes)}. Nothing was stored.`,
    };
  }
  if (err instanceof PageError) return { status: err.status, title: err.title, message: err.message };
  const { status, expose, message, headers } = (err ?? {}) as { status?: unknown; expose?: unknown; message?: unknown; headers?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 600) {
    // Only an error that says its message is meant for the client (`expose`, as ctx.throw sets for 4xx) shows it.
    const exposed = expose === true && typeof message === 'string';
    return {
      status,
      title: errorTitleOf(status),
      message: exposed ? (message as string) : messageOf(status),
      headers: typeof headers === 'object' && headers ? (headers as Record<string, string>) : undefined,
    };
  }
  return { status: 500, title: errorTitleOf(500), message: messageOf(500) };
}

/** `2 MiB (2,097,152 bytes)`: rounded sizes alone could make a refused size read the same as the limit. */
export function exactBytes(bytes: number): string {
  return `${formatBytes(bytes)} (${bytes.toLocaleString('en-US')} bytes)`;
}

function messageOf(status: number): string {
  if (status === 404) return 'There is no page at this address.';
  if (status === 405) return 'This address does not accept that kind of request.';
  if (status >= 500) return 'The server could not handle this request. The error has been logged; please try again later.';
  return 'The request could not be handled.';
}

async function respond(ctx: Koa.Context, options: ErrorAnswerOptions, problem: Problem): Promise<void> {
  ctx.status = problem.status;
  // A route may have redirected before the session failed to save: an error answer goes nowhere else.
  ctx.remove('Location');
  for (const [name, value] of Object.entries(problem.headers ?? {})) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  if (options.wantsJson(ctx.path)) {
    ctx.body = { error: problem.message };
    return;
  }
  await options.renderPage(ctx, problem);
}
