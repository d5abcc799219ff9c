/**
 * The security headers of every page the site or the dashboard sends: the
 * same set helmet sends by default, with a Content-Security-Policy that allows
 * only our own scripts, styles and images (nothing inline), no framing and no
 * MIME sniffing. Written out here rather than taken from helmet because the
 * dashboard ships inside a library: an app that installs sessionkeeper should
 * not install a second header library for a dozen constant headers, and the
 * dashboard must send them whatever the host app sends.
 */
import type Koa from 'koa';

/** The Content-Security-Policy: our own origin only, nothing inline, no plugins, no framing, no `<base>`. */
function contentSecurityPolicy(production: boolean): string {
  const directives = [
    "default-src 'self'",
    // No page of ours needs <base>; an injected one could redirect every relative link and form.
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "img-src 'self' data:",
    "font-src 'self'",
    "object-src 'none'",
    "script-src 'self'",
    "script-src-attr 'none'",
    "style-src 'self'",
    // Browsers would upgrade form posts to https on a plain-http development server.
    ...(production ? ['upgrade-insecure-requests'] : []),
  ];
  return directives.join('; ');
}

/** What decides the headers: production adds HTTPS-only rules. */
export interface SecurityHeaderOptions {
  production: boolean;
  /** Send HSTS in production (default true); it binds the whole domain to HTTPS, so only the app owning it should. */
  strictTransportSecurity?: boolean;
}

/** Every security header, by name. */
export function securityHeaderValues(options: SecurityHeaderOptions): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(options.production),
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Origin-Agent-Cluster': '?1',
    // Not `no-referrer`: under it browsers send `Origin: null` on same-origin form posts, and every post's Origin is checked.
    'Referrer-Policy': 'same-origin',
    // HSTS only means something over TLS, which production has (its cookies are Secure).
    ...(options.production && options.strictTransportSecurity !== false ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' } : {}),
    'X-Content-Type-Options': 'nosniff',
    'X-DNS-Prefetch-Control': 'off',
    'X-Download-Options': 'noopen',
    'X-Frame-Options': 'DENY',
    'X-Permitted-Cross-Domain-Policies': 'none',
    // The old XSS auditor did more harm than good; `0` turns it off where it still exists.
    'X-XSS-Protection': '0',
  };
}

/**
 * Sets the security headers before the rest of the app answers, replacing any
 * a middleware before it set, and leaves out `X-Powered-By`.
 */
export function securityHeaders(options: SecurityHeaderOptions): Koa.Middleware {
  const headers = securityHeaderValues(options);
  return async function sendSecurityHeaders(ctx, next) {
    ctx.set(headers);
    ctx.remove('X-Powered-By');
    await next();
  };
}
