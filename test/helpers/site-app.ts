/**
 * The upload site on a real store in a fresh namespace, for site tests:
 * `createApp` with a capturing logger, plus helpers to build exact multipart
 * bodies and to read the session a response's cookie names.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import supertest from 'supertest';
import type request from 'supertest';
import { resolveConfig, type SessionkeeperOptions } from '../../middleware/config.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionRecord, SessionStore, StoreKind } from '../../middleware/store.ts';
import { createApp, type SiteApp } from '../../server/app.ts';
import { TEST_KEYS } from './session-app.ts';
import { createNamespace, type StoreNamespace } from './store-fixtures.ts';

export interface SiteHandle extends SiteApp {
  namespace: StoreNamespace;
  /** Lifecycle events recorded since the app was built. */
  events: LifecycleEvent[];
  /** Every log line written so far, as text. */
  logText(): string;
  /** The stored record of the session whose cookie a response set or a request sent, if it is live. */
  storedSession(cookieHeader: string): Promise<SessionRecord | undefined>;
  /** Closes the app and removes the namespace. */
  close(): Promise<void>;
}

/**
 * Builds the site on a fresh namespace of `kind` (or on `store`, when given,
 * for stores that cannot answer). The sweeper interval is an hour, so it
 * never runs during a test.
 */
export async function createSiteApp(
  kind: StoreKind,
  options: SessionkeeperOptions = {},
  dependencies: { store?: SessionStore; storeTimeoutMs?: number } = {},
): Promise<SiteHandle> {
  const namespace = await createNamespace(kind);
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
  const config = resolveConfig({ store: kind, keys: TEST_KEYS, sweepIntervalMs: 3_600_000, ...namespace.settings, ...options }, false);
  const site = await createApp(config, { logger, store: dependencies.store ?? namespace.open(), storeTimeoutMs: dependencies.storeTimeoutMs });
  const events: LifecycleEvent[] = [];
  site.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
  return {
    ...site,
    namespace,
    events,
    logText: () => lines.join(''),
    storedSession: async (cookieHeader) => {
      const rawId = /(?:^|;\s*)sid=([^;]+)/.exec(cookieHeader)?.[1];
      return rawId ? site.sessions.store.get(publicIdOf(rawId), Date.now()) : undefined;
    },
    async close() {
      await site.close();
      await namespace.remove();
    },
  };
}

/** The `sid` and `sid.sig` cookies a response set, as a Cookie request header. */
export function cookieHeaderOf(res: request.Response): string {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const pairs = cookies.filter((c) => c.startsWith('sid=') || c.startsWith('sid.sig=')).map((c) => c.split(';')[0]);
  if (pairs.length !== 2) throw new Error(`expected sid and sid.sig cookies, got ${JSON.stringify(cookies)}`);
  return pairs.join('; ');
}

/** One part of a multipart form: a file when `filename` is given (even empty), else a plain field. */
export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: string | Buffer;
}

/** A multipart/form-data body with exactly these bytes, as a browser sends it. */
export function multipartBody(parts: FormPart[]): { contentType: string; body: Buffer } {
  const boundary = `----sessionkeeper-test-${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`;
    const type = part.filename === undefined ? '' : `Content-Type: ${part.contentType ?? 'text/plain'}\r\n`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`), Buffer.from(part.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

/** The upload form with one file in the `textfile` field. */
export function textFileForm(data: string | Buffer, filename = 'notes.txt'): { contentType: string; body: Buffer } {
  return multipartBody([{ name: 'textfile', filename, data }]);
}

/** The visible text of each numbered line on the action page, HTML entities decoded. */
export function shownLines(html: string): string[] {
  const list = /<ol class="lines">([\s\S]*?)<\/ol>/.exec(html)?.[1];
  if (list === undefined) return [];
  return [...list.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((match) => decodeEntities(match[1]!));
}

function decodeEntities(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|#39|#34);/g, (_, name: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', '#39': "'", '#34': '"' })[name]!);
}

/** The site listening on a free port, with a visitor who already holds one upload. */
export interface SiteWithUpload {
  site: SiteHandle;
  server: Server;
  port: number;
  /** The Cookie header of the visitor who uploaded `kept line`. */
  cookie: string;
  close(): Promise<void>;
}

/**
 * The site on the file store with these options, listening on 127.0.0.1 (for
 * tests that send raw or chunked bodies), and a visitor whose upload must
 * survive every refusal.
 */
export async function startSiteWithUpload(options: SessionkeeperOptions = {}): Promise<SiteWithUpload> {
  const site = await createSiteApp('file', options);
  const server = site.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const form = textFileForm('kept line\n');
  const cookie = cookieHeaderOf(await supertest(server).post('/').set('Content-Type', form.contentType).send(form.body).expect(303));
  return {
    site,
    server,
    port: (server.address() as AddressInfo).port,
    cookie,
    async close() {
      server.closeAllConnections();
      server.close();
      await site.close();
    },
  };
}
