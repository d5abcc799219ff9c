/**
 * The dashboard's live event stream (GET /admin/events/stream) lives only as
 * long as its sign-in: logout and admin session expiry end it, a stream opened
 * with HTTP Basic has a lifetime, and a client that stops reading is cut off.
 * Streams read only the dashboard's sign-ins from the store, so the file store
 * is enough here (the sign-ins themselves are tested on every store).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import Koa from 'koa';
import request from 'supertest';
import { AdminSessions } from '../../admin/admin-session.ts';
import { EventStreams, type EventStreamOptions } from '../../admin/event-stream.ts';
import { createAdmin } from '../../admin/index.ts';
import { EventRecorder } from '../../middleware/event-log/event-recorder.ts';
import { MemoryEventLog } from '../../middleware/event-log/memory-event-log.ts';
import { SessionEvents } from '../../middleware/events.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { createSessionkeeper, type Sessionkeeper } from '../../middleware/sessionkeeper.ts';
import { basicAuth, csrfTokenIn } from '../helpers/dashboard-client.ts';
import { silentLogger } from '../helpers/log-capture.ts';
import { createNamespace } from '../helpers/store-fixtures.ts';
import { ADMIN_PASSWORD, ADMIN_USER, TEST_KEYS, testSessionOptions } from '../helpers/test-settings.ts';
import { waitUntil } from '../helpers/wait.ts';
import { WatchedEventLog, withWatchedEventLog } from '../helpers/watched-event-log.ts';

const STREAM_PATH = '/admin/events/stream';
/** Short enough that a test never waits long for a heartbeat. */
const TEST_HEARTBEAT_MS = 50;
/** How often the streams read the shared log here: an event reaches them within this. */
const TEST_POLL_MS = 50;
/** Long enough to see several polls, if anything still polls. */
const POLLS_WINDOW_MS = 6 * TEST_POLL_MS;
/** AdminSessions as any process with the test keys and credentials has them. */
const ADMIN_SESSION_OPTIONS = { user: ADMIN_USER, password: ADMIN_PASSWORD, keys: TEST_KEYS, secure: false, cookiePath: '/admin' };

/** The dashboard (createAdmin) on its own Koa app, listening on a free port: streams need a real connection. */
interface Dashboard {
  port: number;
  sessions: Sessionkeeper;
  /** The shared event log, counting its reads: polled while a stream is open, and only then. */
  log: WatchedEventLog;
  close(): Promise<void>;
}

async function startDashboard(streamHeartbeatMs?: number): Promise<Dashboard> {
  const namespace = await createNamespace('file');
  const app = new Koa();
  const watched = withWatchedEventLog(namespace.open());
  const sessions = await createSessionkeeper(app, testSessionOptions(namespace), { logger: silentLogger(), store: watched.store });
  app.use(createAdmin(sessions, { user: ADMIN_USER, password: ADMIN_PASSWORD, streamHeartbeatMs, streamPollMs: TEST_POLL_MS }));
  const server = await listen(app);
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    log: watched.log(),
    async close() {
      await closeServer(server);
      await sessions.close();
      await namespace.remove();
    },
  };
}

/**
 * Listens on a free port. A client that goes away, or is cut off, ends its
 * response early, which Koa reports as an error; these tests do that on purpose.
 */
async function listen(app: Koa): Promise<http.Server> {
  app.silent = true;
  const server = http.createServer(app.callback()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

/** `name=value` of every cookie a response sets, without the ones it clears. */
function cookiesOf(setCookie: string[]): string {
  return setCookie.map((cookie) => cookie.split(';')[0]!).filter((pair) => !pair.endsWith('=')).join('; ');
}

/** Signs in through the login form: the admin cookie and the CSRF token of its session. */
async function signIn(port: number): Promise<{ cookie: string; csrf: string }> {
  const base = `http://127.0.0.1:${port}`;
  const loginPage = await fetch(`${base}/admin/login`);
  const form = new URLSearchParams({ csrf: csrfTokenIn(await loginPage.text()), user: ADMIN_USER, password: ADMIN_PASSWORD });
  const signedIn = await fetch(`${base}/admin/login`, { method: 'POST', body: form, headers: { Cookie: cookiesOf(loginPage.headers.getSetCookie()) }, redirect: 'manual' });
  assert.equal(signedIn.status, 303);
  const cookie = cookiesOf(signedIn.headers.getSetCookie().filter((set) => set.startsWith('sk_admin=') || set.startsWith('sk_admin.sig=')));
  const dashboard = await fetch(`${base}/admin`, { headers: { Cookie: cookie } });
  assert.equal(dashboard.status, 200);
  return { cookie, csrf: csrfTokenIn(await dashboard.text()) };
}

async function logOut(port: number, session: { cookie: string; csrf: string }): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/admin/logout`, {
    method: 'POST',
    body: new URLSearchParams({ csrf: session.csrf }),
    headers: { Cookie: session.cookie },
    redirect: 'manual',
  });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/admin/login?signedOut=1');
}

/** An event stream as its client sees it. */
interface OpenStream {
  response: http.IncomingMessage;
  received: string;
  /** The server ended the response cleanly. */
  ended: boolean;
}

async function openStream(port: number, headers: Record<string, string>, path = STREAM_PATH): Promise<OpenStream> {
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers }, resolve).on('error', reject);
  });
  assert.equal(response.statusCode, 200);
  assert.match(response.headers['content-type'] ?? '', /^text\/event-stream/);
  response.setEncoding('utf8');
  const stream: OpenStream = { response, received: '', ended: false };
  response.on('data', (chunk: string) => (stream.received += chunk));
  response.on('end', () => (stream.ended = true));
  await waitUntil('the stream opens', () => stream.received.includes('retry:'));
  return stream;
}

/** Records an event for a fresh session id and returns that id. */
function recordEvent(sessions: { events: SessionEvents }): string {
  const sid = publicIdOf(newSessionId());
  sessions.events.record('session.created', { sid });
  return sid;
}

describe('live event stream and the sign-in it was opened with', () => {
  let dashboard: Dashboard;
  before(async () => {
    dashboard = await startDashboard(TEST_HEARTBEAT_MS);
  });
  after(() => dashboard.close());

  test('a stream opened with the admin cookie or with HTTP Basic receives each new event', async () => {
    const session = await signIn(dashboard.port);
    const streams = [await openStream(dashboard.port, { Cookie: session.cookie }), await openStream(dashboard.port, { Authorization: basicAuth() })];
    const sid = recordEvent(dashboard.sessions);
    for (const stream of streams) {
      await waitUntil('the stream gets the event', () => stream.received.includes(sid));
      const data = JSON.parse(/event: lifecycle\ndata: (.*)\n\n/.exec(stream.received)![1]!);
      assert.equal(data.event, 'session.created');
      assert.equal(data.sid, sid);
      assert.match(data.display.time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      stream.response.destroy();
    }
    await waitUntil('nothing follows the log any more', async () => !(await dashboard.log.isFollowed(POLLS_WINDOW_MS)));
  });

  test('after logout with the same cookie, that stream ends and gets no more events; a Basic stream goes on', async () => {
    const session = await signIn(dashboard.port);
    const signedOut = await openStream(dashboard.port, { Cookie: session.cookie });
    const basic = await openStream(dashboard.port, { Authorization: basicAuth() });
    await logOut(dashboard.port, session);
    await waitUntil('the signed-out stream ends', () => signedOut.ended);

    const sid = recordEvent(dashboard.sessions);
    await waitUntil('the Basic stream gets the event', () => basic.received.includes(sid));
    assert.ok(!signedOut.received.includes(sid), 'the signed-out stream got the event');
    assert.equal(basic.ended, false);
    // The cookie no longer opens a stream either.
    const refused = await fetch(`http://127.0.0.1:${dashboard.port}${STREAM_PATH}`, { headers: { Cookie: session.cookie } });
    assert.equal(refused.status, 401);

    basic.response.destroy();
    await waitUntil('nothing follows the log any more', async () => !(await dashboard.log.isFollowed(POLLS_WINDOW_MS)));
  });

  test('a stream whose admin session expires ends at the next heartbeat', async () => {
    // A token as any process with these keys and credentials issues it, with an idle expiry two seconds away.
    const issuer = new Koa();
    issuer.keys = TEST_KEYS;
    let expiresAtMs = 0;
    issuer.use(async (ctx) => {
      const issuing = new AdminSessions({ ...ADMIN_SESSION_OPTIONS, idleTtlMs: 2000, store: dashboard.sessions.namespace('admin') });
      expiresAtMs = (await issuing.start(ctx)).expiresAtMs;
      ctx.status = 204;
    });
    const issued = await request(issuer.callback()).get('/admin').expect(204);
    const cookie = cookiesOf(([] as string[]).concat(issued.headers['set-cookie'] ?? []));

    const stream = await openStream(dashboard.port, { Cookie: cookie });
    assert.equal(stream.ended, false);
    await waitUntil('the expired stream ends', () => stream.ended);
    assert.ok(Date.now() >= expiresAtMs, 'ended before its session expired');
    await waitUntil('nothing follows the log any more', async () => !(await dashboard.log.isFollowed(POLLS_WINDOW_MS)));
  });
});

describe('live event stream and a sign-out in another process', () => {
  let dashboard: Dashboard;
  before(async () => {
    dashboard = await startDashboard(TEST_HEARTBEAT_MS);
  });
  after(() => dashboard.close());

  test('a stream ends at the next heartbeat once its sign-in is gone from the store', async () => {
    const session = await signIn(dashboard.port);
    const stream = await openStream(dashboard.port, { Cookie: session.cookie });
    // Another process over the same store signs the same cookie out: this process learns it from the store.
    const other = new Koa();
    other.keys = TEST_KEYS;
    other.use(async (ctx) => {
      const elsewhere = new AdminSessions({ ...ADMIN_SESSION_OPTIONS, store: dashboard.sessions.store.inner.withNamespace('admin') });
      const signedIn = await elsewhere.read(ctx);
      assert.ok(signedIn, 'the other process reads the sign-in');
      await elsewhere.end(ctx, signedIn);
      ctx.status = 204;
    });
    await request(other.callback()).get('/admin').set('Cookie', session.cookie).expect(204);
    await waitUntil('the stream of the signed-out cookie ends', () => stream.ended);
    assert.equal(await dashboard.log.isFollowed(POLLS_WINDOW_MS), false, 'the log is still followed');
  });
});

describe('live event stream without heartbeats in sight', () => {
  let dashboard: Dashboard;
  before(async () => {
    // The default heartbeat (25 s) never fires during this test: only the broadcast can end the stream.
    dashboard = await startDashboard();
  });
  after(() => dashboard.close());

  test('a signed-out stream ends at the next broadcast, without receiving it', async () => {
    const session = await signIn(dashboard.port);
    const stream = await openStream(dashboard.port, { Cookie: session.cookie });
    await logOut(dashboard.port, session);
    const sid = recordEvent(dashboard.sessions);
    await waitUntil('the signed-out stream ends', () => stream.ended);
    assert.ok(!stream.received.includes(sid), 'the signed-out stream got the event');
    assert.doesNotMatch(stream.received, /event: lifecycle/);
    assert.equal(await dashboard.log.isFollowed(POLLS_WINDOW_MS), false, 'the log is still followed');
  });
});

describe('EventStreams on their own', () => {
  /** Streams answering every request of their own server, as after HTTP Basic. */
  async function serveStreams(options: EventStreamOptions) {
    const log = new WatchedEventLog(new MemoryEventLog(60_000));
    const events = new SessionEvents(silentLogger(), 'file', new EventRecorder(log, silentLogger()));
    const namespace = await createNamespace('file');
    const adminSessions = new AdminSessions({ ...ADMIN_SESSION_OPTIONS, store: namespace.open() });
    const streams = new EventStreams(log, adminSessions, silentLogger(), { pollMs: TEST_POLL_MS, ...options });
    const app = new Koa();
    app.use((ctx) => streams.open(ctx, undefined));
    const server = await listen(app);
    return { events, log, server, port: (server.address() as AddressInfo).port };
  }

  test('a stream opened with HTTP Basic ends after its lifetime, so the browser reconnects and signs in again', async () => {
    const { events, log, server, port } = await serveStreams({ heartbeatMs: TEST_HEARTBEAT_MS, basicLifetimeMs: 500 });
    try {
      const openedAtMs = Date.now();
      const stream = await openStream(port, {}, '/');
      const sid = recordEvent({ events });
      await waitUntil('the stream gets the event', () => stream.received.includes(sid));
      await waitUntil('the Basic stream ends', () => stream.ended);
      assert.ok(Date.now() - openedAtMs >= 500, 'ended before its lifetime');
      await waitUntil('nothing follows the log any more', async () => !(await log.isFollowed(POLLS_WINDOW_MS)));
    } finally {
      await closeServer(server);
    }
  });

  test('a client that stops reading is cut off and forgotten; one that reads keeps its stream', async () => {
    const { events, log, server, port } = await serveStreams({ heartbeatMs: 60_000 });
    const connections = () => new Promise<number>((resolve, reject) => server.getConnections((err, count) => (err ? reject(err) : resolve(count))));
    const stuck = net.connect(port, '127.0.0.1');
    try {
      // Sends the request and never reads the answer: no 'data' listener, so the socket stays paused.
      stuck.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const reader = await openStream(port, {}, '/');
      await waitUntil('both clients are connected', async () => (await connections()) === 2);
      assert.equal(await log.isFollowed(POLLS_WINDOW_MS), true, 'the log is followed');

      // Far more than the socket buffers hold; each batch is small enough for a reading client to keep up.
      let recorded = 0;
      while ((await connections()) > 1) {
        assert.ok(recorded < 200_000, 'the client that does not read was never cut off');
        for (let i = 0; i < 20; i += 1) recordEvent({ events });
        recorded += 20;
        // A busy site, not an endless burst: a client that reads keeps up with it.
        await new Promise((resolve) => setTimeout(resolve, 1));
      }

      const sid = recordEvent({ events });
      await waitUntil('the reading client gets the event', () => reader.received.includes(sid));
      assert.equal(reader.ended, false);
      assert.equal(await log.isFollowed(POLLS_WINDOW_MS), true, 'the log is still followed for the reading client');
      reader.response.destroy();
      await waitUntil('nothing follows the log any more', async () => !(await log.isFollowed(POLLS_WINDOW_MS)));
    } finally {
      stuck.destroy();
      await closeServer(server);
    }
  });
});
