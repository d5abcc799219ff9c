/**
 * The device facts kept with `SESSION_TRACK_DEVICE`: enough for a visitor to
 * tell their sessions apart on a "where you are signed in" page, and no more.
 * Personal data, off by default.
 */
import type { Context } from 'koa';
import type { DeviceFacts } from './store.ts';

/** Longest user agent kept: the browser and platform part of a real one fits; a header padded to 8 KB does not cost 8 KB a session. */
export const MAX_USER_AGENT_LENGTH = 200;

/**
 * The request's device facts: its `User-Agent` with control characters dropped, shortened to
 * MAX_USER_AGENT_LENGTH, and `ctx.ip`, which follows the app's proxy setting (`app.proxy`, the reference
 * server's `TRUST_PROXY`): a forwarded address is believed only from a trusted proxy.
 */
export function deviceFactsOf(ctx: Context): DeviceFacts {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes.
  const userAgent = (ctx.get('User-Agent') ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return { userAgent: shorten(userAgent), address: ctx.ip ?? '' };
}

/** Cut at a code point boundary, with an ellipsis to say it was cut. */
function shorten(text: string): string {
  if (text.length <= MAX_USER_AGENT_LENGTH) return text;
  const cut = Array.from(text.slice(0, MAX_USER_AGENT_LENGTH)).join('');
  return `${cut.replace(/[\uD800-\uDBFF]$/, '')}…`;
}
