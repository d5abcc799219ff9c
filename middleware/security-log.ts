/**
 * Security events as structured `warn` lines: failed and successful admin
 * sign-ins, lockouts, refused cross-site requests and session cookies we did
 * not issue. Each line holds public facts only (the event, the client address,
 * the method and path, a reason), never a password, a cookie or a token, and
 * each kind of event is rate-limited, so a flood of bad requests cannot flood
 * the log: past the limit, lines are counted and the next line that is written
 * says how many were left out.
 */
import type { Context } from 'koa';
import type { Logger } from './logger.ts';

/** The security events sessionkeeper logs. */
export type SecurityEventName =
  | 'admin.sign_in_failed'
  | 'admin.locked_out'
  | 'admin.signed_in'
  | 'admin.signed_out'
  | 'request.csrf_refused'
  | 'session.cookie_rejected';

/** What a refusal may tell the error answer to log: the event and its public facts. */
export interface SecurityRefusal {
  securityEvent: SecurityEventName;
  securityFacts?: Record<string, string | number | boolean>;
}

/** Lines of one kind written per minute at most (default). */
const DEFAULT_LINES_PER_MINUTE = 30;
const MINUTE_MS = 60_000;

interface Window {
  startedAtMs: number;
  written: number;
  suppressed: number;
}

/** Writes security events, rate-limited per kind of event. */
export class SecurityLog {
  readonly #windows = new Map<SecurityEventName, Window>();

  /** @param linesPerMinute lines of one kind written per minute at most; the rest are counted. */
  constructor(private readonly logger: Logger, private readonly linesPerMinute = DEFAULT_LINES_PER_MINUTE) {}

  /** Logs one event about the request `ctx` with its public facts; false when the rate limit left it out. */
  warn(event: SecurityEventName, ctx: Context, facts: Record<string, string | number | boolean> = {}, nowMs = Date.now()): boolean {
    const window = this.#windowOf(event, nowMs);
    if (window.written >= this.linesPerMinute) {
      window.suppressed += 1;
      return false;
    }
    window.written += 1;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    this.logger.warn({ event, ip: ctx.ip, method: ctx.method, path: ctx.path, ...facts, ...(suppressed ? { suppressed } : {}) }, event);
    return true;
  }

  /** Logs the event a refusal carries (see SecurityRefusal), if it carries one. */
  warnIfRefusal(err: unknown, ctx: Context): void {
    const refusal = err as Partial<SecurityRefusal> | null;
    if (refusal && typeof refusal.securityEvent === 'string') this.warn(refusal.securityEvent, ctx, refusal.securityFacts);
  }

  /** The window of `event` at `nowMs`; a new one carries over what the last left out, for its first line to say. */
  #windowOf(event: SecurityEventName, nowMs: number): Window {
    const current = this.#windows.get(event);
    if (current && nowMs - current.startedAtMs < MINUTE_MS) return current;
    const next = { startedAtMs: nowMs, written: 0, suppressed: current?.suppressed ?? 0 };
    this.#windows.set(event, next);
    return next;
  }
}
