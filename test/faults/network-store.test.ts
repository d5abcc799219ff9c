/**
 * The Redis and PostgreSQL stores behind a fault-injecting proxy (README,
 * "When the store fails"): the real app on a real port, the real servers, the
 * network between them cut off, partitioned, slowed down and brought back.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { mib, settledHeapBytes } from '../helpers/memory.ts';
import { createProxiedNamespace, NETWORK_STORE_KINDS, terminateBackends, type ProxiedNamespace } from '../helpers/proxied-namespace.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { textFileForm } from '../helpers/upload-forms.ts';
import { Visitor } from '../helpers/visitor.ts';
import { timed, waitUntil } from '../helpers/wait.ts';

/** A request that needs its session gets 503 within 5 s. */
const UNAVAILABLE_BOUND_MS = 5_000;
/** The slow-store site's guard timeout: short, so the test is quick. */
const SHORT_TIMEOUT_MS = 750;
/** How long the slowed store takes for every chunk, each way: far beyond the timeout. */
const SLOW_DELAY_MS = 3_000;
/** The PostgreSQL store's own pool size (postgres-store.ts): the most connections that can be in flight. */
const PG_POOL_MAX = 10;

interface Answer {
  what: string;
  status: number;
  ms: number;
  type: string;
  body: string;
}

/** One request of a visitor, with its status, time and body. */
async function ask(what: string, visitor: Visitor, path: string, init: RequestInit = {}): Promise<Answer> {
  const { value: res, ms } = await timed(() => visitor.request(path, init));
  const body = await res.text();
  return { what, status: res.status, ms, type: res.headers.get('content-type') ?? '', body };
}

/** Every kind of request that needs the store: a visitor's pages and forms, the admin API, the health check. */
function everyStoreRequest(site: ListeningTestApp, holder: Visitor): Promise<Answer>[] {
  const newcomer = new Visitor(site.url);
  const form = () => {
    const { contentType, body } = textFileForm('written while the store is away\n');
    return { method: 'POST', headers: { 'Content-Type': contentType }, body: new Uint8Array(body) };
  };
  const admin = { headers: { Authorization: basicAuth() } };
  return [
    ask('GET /action with a session', holder, '/action'),
    ask('GET / with a session', holder, '/'),
    ask('POST / with a session', holder, '/', form()),
    ask('POST / without a session', newcomer, '/', form()),
    ask('POST /forget', holder, '/forget', { method: 'POST' }),
    ask('GET /admin/api/sessions', newcomer, '/admin/api/sessions', admin),
    ask('GET /admin/api/stats', newcomer, '/admin/api/stats', admin),
    ask('POST /admin/api/purge-expired', newcomer, '/admin/api/purge-expired', { method: 'POST', ...admin }),
    ask('GET /healthz', newcomer, '/healthz'),
  ];
}

function assertUnavailable(answers: Answer[], boundMs: number): void {
  for (const answer of answers) {
    assert.equal(answer.status, 503, `${answer.what}: ${answer.body.slice(0, 200)}`);
    assert.ok(answer.ms < boundMs, `${answer.what} took ${answer.ms} ms`);
    const json = answer.what.includes('/admin/api/') || answer.what.includes('/healthz');
    assert.match(answer.type, json ? /application\/json/ : /text\/html/, answer.what);
    if (answer.what.includes('/healthz')) assert.equal(JSON.parse(answer.body).healthy, false);
    // A purge that outlasts its wait goes on in the background, and says so.
    else assert.match(answer.body, /not answering|purge is still running/, `${answer.what} says why`);
  }
}

const logCount = (site: ListeningTestApp, msg: string) => site.logs.lines().filter((line) => line.msg === msg).length;
const healthy = async (site: ListeningTestApp) => (await fetch(`${site.url}/healthz`)).status === 200;

for (const kind of NETWORK_STORE_KINDS) {
  describe(`the ${kind} store behind a faulty network`, () => {
    let namespace: ProxiedNamespace;
    /** The guard's default timeout, as in production. */
    let site: ListeningTestApp;
    /** A short guard timeout, for the slow store. */
    let quickSite: ListeningTestApp;

    before(async () => {
      namespace = await createProxiedNamespace(kind);
      site = await createTestApp(kind, { namespace: namespace.namespace, store: namespace.open(), listen: true });
      quickSite = await createTestApp(kind, { namespace: namespace.namespace, store: namespace.open(), storeTimeoutMs: SHORT_TIMEOUT_MS, listen: true });
    });
    afterEach(() => {
      // A failed test must not leave the network broken for the next one.
      namespace.proxy.restore();
    });
    after(async () => {
      await site?.close();
      await quickSite?.close();
      await namespace?.remove();
    });

    test('cut off: 503 within 5 s everywhere, the cause logged once, /healthz 503; back: sessions served again without a restart', async () => {
      const holder = new Visitor(site.url);
      assert.equal(await holder.upload('kept through the outage\nsecond line\n', 'kept.txt'), 303);
      assert.deepEqual((await holder.read()).lines, ['kept through the outage', 'second line']);

      namespace.proxy.cut();
      assertUnavailable(await Promise.all(everyStoreRequest(site, holder)), UNAVAILABLE_BOUND_MS);
      // A second wave: still 503, and still one log line for the whole outage.
      assertUnavailable(await Promise.all(everyStoreRequest(site, holder)), UNAVAILABLE_BOUND_MS);
      const downLines = site.logs.lines().filter((line) => line.msg === 'session store unavailable');
      assert.equal(downLines.length, 1, 'logged once, not once per request');
      assert.equal(downLines[0]!.level, 50);
      assert.equal(downLines[0]!.store, kind);
      assert.ok((downLines[0]!.err as { message?: string } | undefined)?.message, 'the line carries the cause');
      assert.equal(logCount(site, 'request failed'), 0, 'no request failed as a 500');
      assert.ok(site.httpServer.listening, 'the server is still up');

      namespace.proxy.restore();
      await waitUntil('/healthz answers 200 again', () => healthy(site), UNAVAILABLE_BOUND_MS);
      assert.deepEqual((await holder.read()).lines, ['kept through the outage', 'second line'], 'the stored session is served again');
      assert.equal(await holder.upload('after the outage\n', 'after.txt'), 303);
      assert.deepEqual((await holder.read()).lines, ['after the outage']);
      assert.equal(logCount(site, 'session store answering again'), 1);
    });

    test('partitioned (connections open, nothing answers): 503 within 5 s with the default timeouts, then back', async () => {
      const holder = new Visitor(site.url);
      assert.equal(await holder.upload('before the partition\n', 'p.txt'), 303);

      namespace.proxy.slow(Infinity);
      const answers = await Promise.all(everyStoreRequest(site, holder));
      // Each store call is bounded by the guard's timeout, and a request's calls together by its store budget.
      assertUnavailable(answers, UNAVAILABLE_BOUND_MS);

      namespace.proxy.restore();
      await waitUntil('/healthz answers 200 again', () => healthy(site), UNAVAILABLE_BOUND_MS);
      assert.deepEqual((await holder.read()).lines, ['before the partition']);
    });

    test('slow (latency beyond the timeout): 503 at the timeout, no queue builds up, connections and memory stay bounded', async () => {
      const reader = new Visitor(quickSite.url);
      assert.equal(await reader.upload('read while slow\n', 'r.txt'), 303);
      const writer = new Visitor(quickSite.url);
      assert.equal(await writer.upload('version 0\n', 'w.txt'), 303);
      const heapBeforeBytes = settledHeapBytes();

      namespace.proxy.slow(SLOW_DELAY_MS);
      const waveCount = 5;
      const perWave = 30;
      let mostConnections = 0;
      for (let wave = 1; wave <= waveCount; wave++) {
        const answers = await Promise.all(
          Array.from({ length: perWave }, (_, i) => {
            if (i % 3 === 0) return ask('GET /action', reader, '/action');
            if (i % 3 === 1) {
              const { contentType, body } = textFileForm(`version ${wave}.${i}\n`);
              return ask('POST /', writer, '/', { method: 'POST', headers: { 'Content-Type': contentType }, body: new Uint8Array(body) });
            }
            return ask('GET /healthz', reader, '/healthz');
          }),
        );
        for (const answer of answers) {
          assert.equal(answer.status, 503, answer.what);
          // At the timeout: not sooner (the store was asked), and no later in the last wave than in the first (no queue).
          assert.ok(answer.ms >= SHORT_TIMEOUT_MS - 50 && answer.ms < SHORT_TIMEOUT_MS + 1_000, `wave ${wave}: ${answer.what} took ${answer.ms} ms`);
        }
        mostConnections = Math.max(mostConnections, namespace.proxy.openConnections);
      }
      // Two sites use the proxy: Redis multiplexes one connection each; PostgreSQL's pools never open more than their maximum.
      assert.ok(mostConnections <= 2 * (kind === 'redis' ? 1 : PG_POOL_MAX), `${mostConnections} connections open at once`);

      namespace.proxy.restore();
      await waitUntil('/healthz answers 200 again', () => healthy(quickSite), UNAVAILABLE_BOUND_MS);
      // Late answers of the timed-out calls have arrived by now; they must have left nothing behind.
      await sleep(500);
      const heapGrowthBytes = settledHeapBytes() - heapBeforeBytes;
      assert.ok(heapGrowthBytes < 16 * 1_048_576, `heap grew by ${mib(heapGrowthBytes)}`);
      assert.deepEqual((await reader.read()).lines, ['read while slow'], 'the reader\'s session is intact');
      // A write that timed out may still land when the store catches up; whatever landed is one whole upload.
      const written = await writer.read();
      assert.equal(written.lines.length, 1);
      assert.match(written.lines[0]!, /^version (0|\d\.\d+)$/);
    });

    if (kind === 'postgres') {
      test('every connection terminated mid-load (pg_terminate_backend): the pool recovers by itself, at most the requests in flight fail', async (t) => {
        const visitors = Array.from({ length: 20 }, () => new Visitor(site.url));
        const lastWritten = new Map<Visitor, string>();
        const failures: string[] = [];
        let terminated = 0;
        let stop = false;
        const loop = async (visitor: Visitor, index: number) => {
          for (let round = 0; !stop; round++) {
            const text = `visitor ${index} round ${round}`;
            const status = await visitor.upload(`${text}\n`, 'load.txt');
            if (status === 303) lastWritten.set(visitor, text);
            else failures.push(`upload ${status}`);
            const shown = await visitor.read();
            if (shown.status !== 200) failures.push(`read ${shown.status}`);
            else if (lastWritten.has(visitor)) assert.deepEqual(shown.lines, [lastWritten.get(visitor)], 'reads back its last write');
          }
        };
        const load = Promise.all(visitors.map(loop));
        await sleep(1_000);
        terminated = await terminateBackends(namespace.applicationName);
        await sleep(1_000);
        const failuresBeforeEnd = failures.length;
        await sleep(1_000);
        stop = true;
        await load;

        t.diagnostic(`${terminated} connections terminated, ${failures.length} requests failed`);
        assert.ok(terminated >= 1, 'the store had connections to terminate');
        assert.ok(failures.length <= Math.min(terminated, PG_POOL_MAX), `${failures.length} requests failed (${failures.join(', ')}) for ${terminated} connections ended`);
        assert.equal(failures.length, failuresBeforeEnd, 'nothing fails once the pool has recovered');
        assert.ok(failures.every((failure) => failure.endsWith('503')), 'failures are 503s, never 500s');
        assert.ok(await healthy(site));
      });
    }
  });
}
