import type Koa from 'koa';
import helmet from 'koa-helmet';

/**
 * Security headers for every response, from helmet: a Content-Security-Policy
 * that allows only our own scripts, styles and images (nothing inline), no
 * framing, no MIME sniffing.
 *
 * Referrer-Policy is `same-origin`, not helmet's `no-referrer`: under
 * `no-referrer` browsers send `Origin: null` on same-origin form posts, and
 * the site checks the Origin of every post.
 */
export function securityHeaders(options: { production: boolean }): Koa.Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        // No page of ours needs <base>; an injected one could redirect every relative link and form.
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        // Browsers would upgrade form posts to https on a plain-http development server.
        ...(options.production ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    // HSTS only means something over TLS, which production has (its cookies are Secure).
    strictTransportSecurity: options.production,
  });
}
