/**
 * Property-based hostile input against every route of the site and the
 * dashboard, over raw HTTP: random methods, paths, query strings, cookies
 * (forged, and correctly signed with any value), headers and multipart bodies
 * with random file names. Never a 500, never a stack trace or a server path
 * in an answer, never a file outside the file store's directory, and uploaded
 * names and text always shown as text.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { EVENT_LOG_DIR } from '../../middleware/event-log/file-event-log.ts';
import { rawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { TEST_KEYS } from '../helpers/test-settings.ts';
import { Visitor } from '../helpers/visitor.ts';
import { assertNothingLeaks, headerValue, hostileText, queryString, urlText } from './hostile-values.ts';

const NUM_RUNS = 200;
const UPLOAD_MAX_BYTES = 4_096;

/** The cookie signature as the `cookies` package computes it (Keygrip: HMAC-SHA1, base64url). */
function signed(name: string, value: string): string {
  const signature = createHmac('sha1', TEST_KEYS[0]!).update(`${name}=${value}`).digest('base64url');
  return `${name}=${value}; ${name}.sig=${signature}`;
}

/** Every file and directory under `dir`, as relative paths. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.sort();
}

/** File names that try to leave a directory, inject markup or break the part's header. */
const hostileFileName = fc.constantFrom('../../../outside.txt', '..\\..\\outside.txt', '/tmp/outside.txt', '<img src=x onerror=alert(1)>.txt', 'a"b.txt', 'x\r\nContent-Type: text/html', '.json', '..', '');

const ROUTES = [
  '/', '/action', '/forget', '/healthz', '/static/style.css', '/static/', '/static/../package.json', '/nowhere',
  '/admin', '/admin/', '/admin/login', '/admin/logout', '/admin/end-all', '/admin/purge-expired', '/admin/sessions/x/end',
  '/admin/api/sessions', '/admin/api/stats', '/admin/api/events', '/admin/api/purge-expired', '/admin/api/sessions/x', '/admin/api/nowhere',
];

const cookieHeader = fc.oneof(
  headerValue,
  headerValue.map((value) => `sid=${value}`),
  fc.tuple(headerValue, headerValue).map(([id, sig]) => `sid=${id}; sid.sig=${sig}`),
  // Signed with the server's own key: the worst case, a value that passes the signature check.
  headerValue.filter((v) => !/[;,\s]/.test(v) && v.length > 0).map((value) => signed('sid', value)),
  fc.stringMatching(/^[A-Za-z0-9_-]{43}$/).map((id) => signed('sid', id)),
  headerValue.filter((v) => !/[;,\s]/.test(v) && v.length > 0).map((value) => signed('sk_admin', value)),
);

const request = fc.record({
  method: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('GET', 'POST') },
    { weight: 1, arbitrary: fc.constantFrom('HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECTX') },
  ),
  route: fc.constantFrom(...ROUTES),
  suffix: fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 1, arbitrary: urlText }),
  query: queryString,
  headers: fc.array(
    fc.tuple(
      fc.constantFrom('Cookie', 'Origin', 'Referer', 'Host', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'Content-Type', 'Accept', 'Authorization', 'If-None-Match', 'Range', 'Accept-Encoding', 'X-CSRF-Token'),
      headerValue,
    ),
    { maxLength: 5 },
  ),
  cookie: fc.option(cookieHeader, { nil: undefined }),
  authorization: fc.option(fc.oneof(headerValue.map((v) => `Basic ${v}`), hostileText.map((v) => `Basic ${Buffer.from(`admin:${v}`).toString('base64')}`)), { nil: undefined }),
  body: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
});

/** One part of a multipart body as a hostile client may shape it. */
const anyPart = fc.record({
  name: fc.oneof(fc.constant('textfile'), hostileText),
  filename: fc.option(fc.oneof(hostileText, hostileFileName), { nil: undefined }),
  contentType: fc.option(headerValue, { nil: undefined }),
  data: fc.oneof(
    fc.array(hostileText, { maxLength: 8 }).map((lines) => Buffer.from(lines.join('\n'))),
    fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)),
    fc.constant(Buffer.alloc(UPLOAD_MAX_BYTES + 1, 'a')),
  ),
});

/** The file part of a browser's upload, with a hostile name and hostile (but mostly valid) text. */
const filePart = fc.record({
  name: fc.constant('textfile'),
  filename: fc.oneof(hostileText, hostileFileName),
  contentType: fc.option(fc.constantFrom('text/plain', 'text/html', 'application/octet-stream', 'image/svg+xml'), { nil: undefined }),
  data: fc.array(hostileText, { minLength: 1, maxLength: 8 }).map((lines) => Buffer.from(lines.join('\n'))),
});

const boundary = fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/).filter((b) => !b.endsWith(' '));

/** Two in three are well-formed uploads (hostile names and text); the rest is malformed in every way. */
const multipart = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      boundary,
      parts: filePart.map((p) => [p]),
      cutAt: fc.constant(1),
      closing: fc.constant(true),
      declaredBoundary: fc.constant(undefined),
      withSession: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      boundary: fc.oneof(boundary, hostileText.filter((s) => !/[\r\n]/.test(s))),
      parts: fc.array(anyPart, { maxLength: 3 }),
      /** Cut the body short at this fraction (1 = whole). */
      cutAt: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
      closing: fc.boolean(),
      declaredBoundary: fc.option(headerValue, { nil: undefined }),
      withSession: fc.boolean(),
    }),
  },
);

function multipartBody({ boundary, parts, cutAt, closing }: Pick<typeof multipart extends fc.Arbitrary<infer T> ? T : never, 'boundary' | 'parts' | 'cutAt' | 'closing'>): Buffer {
  const chunks: Buffer[] = [];
  for (const { name, filename, contentType, data } of parts) {
    const disposition = `form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${contentType === undefined ? '' : `Content-Type: ${contentType}\r\n`}\r\n`), data, Buffer.from('\r\n'));
  }
  if (closing) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const body = Buffer.concat(chunks);
  return body.subarray(0, Math.floor(body.length * cutAt));
}

describe('hostile input against every route', () => {
  let root: string;
  let dir: string;
  let site: ListeningTestApp;
  let port: number;
  let holder: Visitor;

  before(async () => {
    // The sessions in a directory of their own under `root`, so that a file written beside it would show.
    root = await mkdtemp(join(tmpdir(), 'sessionkeeper-hostile-'));
    dir = join(root, 'sessions');
    await mkdir(dir);
    site = await createTestApp('file', { sessions: { fileDir: dir }, server: { uploadMaxBytes: UPLOAD_MAX_BYTES }, listen: true });
    port = site.port;
    holder = new Visitor(site.url);
    assert.equal(await holder.upload('a session to aim at\n', 'held.txt'), 303);
  });
  after(async () => {
    await site?.close();
    await rm(root, { recursive: true, force: true });
  });

  /**
   * After every property: the directory holds session files only (and the dashboard's namespace, `admin/`,
   * holding sign-ins and failure counters named alike), and nothing appeared beside it.
   */
  async function assertOnlySessionFiles(): Promise<void> {
    assert.deepEqual(await tree(root).then((paths) => paths.filter((path) => !path.startsWith('sessions/'))), ['sessions']);
    for (const name of await readdir(dir)) {
      if (name === 'admin' || name === EVENT_LOG_DIR) continue;
      if (name === '.ended') {
        // Tombstones of ended sessions (file-tombstones.ts): empty files named by public id.
        for (const tombstone of await readdir(join(dir, name))) assert.match(tombstone, /^[A-Za-z0-9_-]{43}$/, `only tombstones: ${tombstone}`);
        continue;
      }
      assert.match(name, /^[A-Za-z0-9_-]{43}\.json$/, `only session files: ${name}`);
    }
    const logFiles = await readdir(join(dir, EVENT_LOG_DIR)).catch(() => []);
    for (const name of logFiles) assert.match(name, /^(seg-\d+\.jsonl|tally-\d+)$/, `only the event log's segments and tallies: ${name}`);
    const namespaced = await readdir(join(dir, 'admin')).catch(() => []);
    for (const name of namespaced) assert.match(name, /^[A-Za-z0-9_-]{43}\.json$/, `only sign-ins and counters: ${name}`);
  }

  /** No 5xx, except 501 for a method no route implements (the router's answer, and HTTP's). */
  const check = (res: RawResponse, what: string) => {
    assert.ok(res.status < 500 || res.status === 501, `${what}: ${res.status} ${res.body.toString('latin1').slice(0, 300)}`);
    assertNothingLeaks(res, what);
  };

  test('random methods, paths, query strings, cookies and headers: never a 500, nothing leaks', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const target = `${r.route}${r.suffix}${r.query}`;
        const headers: [string, string][] = [['Host', `127.0.0.1:${port}`], ...r.headers];
        if (r.cookie !== undefined) headers.push(['Cookie', r.cookie]);
        if (r.authorization !== undefined) headers.push(['Authorization', r.authorization]);
        const body = r.body && Buffer.from(r.body);
        if (body) headers.push(['Content-Length', String(body.length)]);
        check(await rawRequest(port, { method: r.method, target, headers, body }), `${r.method} ${target}`);
      }),
      { numRuns: NUM_RUNS },
    );
    await assertOnlySessionFiles();
  });

  test('random multipart uploads and file names: a fitting 4xx or a stored upload shown as text; no file outside the directory', async () => {
    await fc.assert(
      fc.asyncProperty(multipart, async (m) => {
        const body = multipartBody(m);
        const headers: [string, string][] = [
          ['Host', `127.0.0.1:${port}`],
          ['Content-Type', `multipart/form-data; boundary=${m.declaredBoundary ?? m.boundary}`],
          ['Content-Length', String(body.length)],
        ];
        if (m.withSession) headers.push(['Cookie', holder.cookieHeader]);
        const res = await rawRequest(port, { method: 'POST', target: '/', headers, body });
        check(res, 'POST /');
        assert.ok([303, 400, 413, 415].includes(res.status), `POST /: ${res.status} ${res.body.toString('latin1').slice(0, 300)}`);
        if (res.status !== 303) return;
        const cookie = res.headers['set-cookie']?.split('\n').map((c) => c.split(';')[0]).join('; ') || holder.cookieHeader;
        const shown = await rawRequest(port, { method: 'GET', target: '/action', headers: [['Host', `127.0.0.1:${port}`], ['Cookie', cookie]] });
        check(shown, 'GET /action');
        assert.equal(shown.status, 200);
        // Markup from a file name or a line is shown escaped, never as markup.
        assert.doesNotMatch(shown.body.toString('utf8'), /<img src=x|<script>alert/, 'uploaded markup is escaped');
      }),
      { numRuns: NUM_RUNS },
    );
    await assertOnlySessionFiles();
    // The visitor the properties aimed at still has a working session.
    const shown = await holder.read();
    assert.equal(shown.status, 200);
  });
});
