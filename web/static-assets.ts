import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';
import { PageError } from './page-error.ts';

/**
 * The stylesheets, images and scripts of the site and the dashboard (`public/`):
 * the site serves them under `/static/`, the dashboard under its own prefix.
 */
export const PUBLIC_DIR = new URL('../public/', import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * Serves the files of a folder under a URL prefix (ending in `/`), read once
 * when the middleware is built (a few small files): a request can only name one of them, so no path is ever built
 * from what a client sent. Other paths under the prefix are 404 without
 * reaching the session middleware.
 */
export function staticAssets(folder: URL, urlPrefix: string): Koa.Middleware {
  const dir = fileURLToPath(folder);
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || !type) continue;
    const body = readFileSync(join(dir, entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(`${urlPrefix}${entry.name}`, { body, type, etag });
  }

  return async (ctx, next) => {
    if (!ctx.path.startsWith(urlPrefix)) return next();
    const asset = assets.get(ctx.path);
    if (!asset) throw new PageError(404, 'Page not found', 'There is no file at this address.');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      throw new PageError(405, 'Method not allowed', 'Static files can only be fetched.');
    }
    // Revalidated on every use (cheap: 304 by ETag), so a new deploy is seen at once.
    ctx.set('Cache-Control', 'no-cache');
    ctx.etag = asset.etag;
    ctx.type = asset.type;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = asset.body;
  };
}
