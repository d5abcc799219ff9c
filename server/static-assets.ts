import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';
import { PageError } from './page-error.ts';

/** The stylesheets, images and scripts of the site and the dashboard, served under `/static/`. */
const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
const URL_PREFIX = '/static/';

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
 * Serves the files of `public/`, read once at start-up: a request can only
 * name one of them, so no path is ever built from what a client sent. Other
 * paths under `/static/` are 404 without reaching the session middleware.
 */
export async function staticAssets(): Promise<Koa.Middleware> {
  const assets = new Map<string, Asset>();
  for (const entry of await readdir(PUBLIC_DIR, { withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || !type) continue;
    const body = await readFile(join(PUBLIC_DIR, entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(`${URL_PREFIX}${entry.name}`, { body, type, etag });
  }

  return async (ctx, next) => {
    if (!ctx.path.startsWith(URL_PREFIX)) return next();
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
