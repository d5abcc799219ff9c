/**
 * What the site's error pages and the dashboard's error handler agree on:
 * which paths answer errors as JSON, and the heading of an error page.
 */
import { STATUS_CODES } from 'node:http';

/** Error page headings, in words a visitor or an operator reads; other statuses use Node's reason phrase. */
const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Refused',
  404: 'Page not found',
  405: 'Method not allowed',
  429: 'Too many attempts',
  500: 'Something went wrong',
  503: 'Service unavailable',
};

/**
 * True for paths whose clients are scripts or `EventSource`, not people: the
 * health check, the admin JSON API and the admin event stream. Their errors
 * are `{ "error": "…" }`, never a page.
 */
export function wantsJson(path: string): boolean {
  return path === '/healthz' || path === '/admin/api' || path.startsWith('/admin/api/') || path === '/admin/events/stream';
}

/** The heading of the error page for an HTTP status. */
export function errorTitleOf(status: number): string {
  return TITLES[status] ?? STATUS_CODES[status] ?? (status < 500 ? 'Request refused' : 'Server error');
}
