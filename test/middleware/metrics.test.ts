import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import Koa from 'koa';
import { Counter, Registry, register as globalRegistry } from 'prom-client';
import request from 'supertest';
import { ConfigError } from '../../middleware/config.ts';
import { EventRecorder } from '../../middleware/event-log/event-recorder.ts';
import { MemoryEventLog } from '../../middleware/event-log/memory-event-log.ts';
import { SessionEvents } from '../../middleware/events.ts';
import { GuardedStore } from '../../middleware/guarded-store.ts';
import { SessionMetrics } from '../../middleware/metrics.ts';
import { createSessionkeeper } from '../../middleware/sessionkeeper.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { unreachableStore } from '../helpers/failing-stores.ts';
import { silentLogger } from '../helpers/log-capture.ts';
import { seedSessions } from '../helpers/seeded-sessions.ts';
import { createSessionApp } from '../helpers/session-app.ts';
import { STORE_KINDS, createNamespace } from '../helpers/store-fixtures.ts';
import { createTestApp } from '../helpers/test-app.ts';
import { testSessionOptions } from '../helpers/test-settings.ts';
import { cookieHeaderOf, textFileForm } from '../helpers/upload-forms.ts';

const silent = silentLogger();

/** A sample as prom-client's `metric.get()` gives it; histograms name each one (`…_bucket`, `…_sum`, `…_count`). */
interface Sample {
  value: number;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}

async function samplesOf(registry: Registry, family: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(family);
  assert.ok(metric, `${family} is registered`);
  return (await metric.get()).values as Sample[];
}

/**
 * One sample of a registered metric, collecting only that metric (never the live gauge by the way):
 * `sampleName` for a histogram's `_count`, `_sum` or `_bucket`; `labels` must all match.
 */
async function sampleOf(registry: Registry, family: string, labels: Record<string, string | number> = {}, sampleName = family): Promise<number | undefined> {
  const values = await samplesOf(registry, family);
  return values.find((v) => (v.metricName ?? family) === sampleName && Object.entries(labels).every(([name, value]) => v.labels[name] === value))?.value;
}

/** Every lifecycle counter, as one object to compare whole. */
async function lifecycleCounts(registry: Registry): Promise<Record<string, number | undefined>> {
  const counter = (name: string, labels: Record<string, string> = {}) => sampleOf(registry, `sessionkeeper_sessions_${name}_total`, labels);
  return {
    created: await counter('created'),
    destroyedByUser: await counter('destroyed', { by: 'user' }),
    destroyedByAdmin: await counter('destroyed', { by: 'admin' }),
    destroyedByApp: await counter('destroyed', { by: 'app' }),
    expired: await counter('expired'),
    evicted: await counter('evicted'),
    regenerated: await counter('regenerated'),
    moved: await counter('moved'),
  };
}

const NONE = { created: 0, destroyedByUser: 0, destroyedByAdmin: 0, destroyedByApp: 0, expired: 0, evicted: 0, regenerated: 0, moved: 0 };

/** The histogram of one store operation is whole: cumulative buckets ending in +Inf = count, and a sum. */
async function storeCallsOf(registry: Registry, operation: string): Promise<{ count: number; sum: number; errors: number | undefined }> {
  const family = 'sessionkeeper_store_operation_duration_seconds';
  const values = await samplesOf(registry, family);
  const buckets = values.filter((v) => v.metricName === `${family}_bucket` && v.labels.operation === operation);
  const count = (await sampleOf(registry, family, { operation }, `${family}_count`)) ?? 0;
  const sum = (await sampleOf(registry, family, { operation }, `${family}_sum`)) ?? 0;
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${operation}: buckets are cumulative`);
  if (count > 0) {
    assert.equal(buckets.at(-1)?.labels.le, '+Inf');
    assert.equal(buckets.at(-1)?.value, count, `${operation}: the +Inf bucket holds every call`);
    assert.equal(buckets[0]?.labels.le, 0.0001, 'the first bucket is 0.1 ms');
  }
  return { count, sum, errors: await sampleOf(registry, 'sessionkeeper_store_errors_total', { operation }) };
}

for (const kind of STORE_KINDS) {
  describe(`metrics of a real app (${kind} store)`, () => {
    test('lifecycle counters follow the events: created, destroyed by user and admin, expired, evicted, end-all', async () => {
      const site = await createTestApp(kind, { sessions: { maxCount: 4 } });
      try {
        const { registry } = site.sessions.metrics;
        const client = () => request(site.app.callback());
        assert.deepEqual(await lifecycleCounts(registry), NONE, 'every series exists at 0 from the start');

        const form = textFileForm('one line\n');
        const upload = async () => cookieHeaderOf(await client().post('/').set('Content-Type', form.contentType).send(form.body).expect(303));
        const forgetting = await upload();
        await upload();
        await client().post('/forget').set('Cookie', forgetting).expect(303);
        const [ended] = (await client().get('/admin/api/sessions').set('Authorization', basicAuth()).expect(200)).body.sessions;
        await client().delete(`/admin/api/sessions/${ended.id}`).set('Authorization', basicAuth()).expect(200);
        assert.deepEqual(await lifecycleCounts(registry), { ...NONE, created: 2, destroyedByUser: 1, destroyedByAdmin: 1 });

        await seedSessions(site.store, { count: 3, expiresInMs: -60_000 });
        await seedSessions(site.store, { count: 6 });
        assert.deepEqual(await site.sessions.sweeper.sweepNow(), { expired: 3, evicted: 2 });
        assert.deepEqual(await lifecycleCounts(registry), { ...NONE, created: 2, destroyedByUser: 1, destroyedByAdmin: 1, expired: 3, evicted: 2 });

        // An operator's purge of expired sessions: its sweep records each one, the purge itself adds nothing.
        await seedSessions(site.store, { count: 2, expiresInMs: -60_000 });
        assert.deepEqual((await client().post('/admin/api/purge-expired').set('Authorization', basicAuth()).expect(200)).body, { removed: 2 });
        // Ending every session is one event with its count: each of the 4 live sessions counts as ended by an operator.
        assert.deepEqual((await client().post('/admin/api/purge-all').set('Authorization', basicAuth()).expect(200)).body, { removed: 4 });
        assert.deepEqual(await lifecycleCounts(registry), { ...NONE, created: 2, destroyedByUser: 1, destroyedByAdmin: 5, expired: 5, evicted: 2 });
        assert.equal(site.events.filter((e) => e.event === 'session.expired').length, 5, 'as many as the events say');
      } finally {
        await site.close();
      }
    });

    test('regenerating counts as regenerated, not as created or destroyed; store calls are timed per operation', async () => {
      const handle = await createSessionApp(kind);
      try {
        const { registry } = handle.sessions.metrics;
        const client = () => request(handle.app.callback());
        const cookie = cookieHeaderOf(await client().post('/write?step=1').expect(200));
        const regenerated = cookieHeaderOf(await client().post('/regenerate').set('Cookie', cookie).expect(200));
        await client().post('/write?step=2').set('Cookie', regenerated).expect(200);
        await client().post('/forget').set('Cookie', regenerated).expect(204);
        assert.deepEqual(await lifecycleCounts(registry), { ...NONE, created: 1, regenerated: 1, destroyedByUser: 1 });

        for (const operation of ['init', 'create', 'getAndRoll', 'update', 'destroy']) {
          const calls = await storeCallsOf(registry, operation);
          assert.ok(calls.count > 0, `${operation} was timed`);
          assert.ok(calls.sum > 0 && calls.sum < 5, `${operation}: a duration in seconds (${calls.sum})`);
          assert.equal(calls.errors, 0, `${operation}: its error series exists, at 0`);
        }
        assert.equal((await storeCallsOf(registry, 'create')).count, 2, 'the first session and its regenerated id');
        assert.equal((await storeCallsOf(registry, 'destroy')).count, 2, 'the regenerated-away id and the forgotten session');
        await handle.sessions.sweeper.sweepNow();
        assert.equal(await sampleOf(registry, 'sessionkeeper_sweep_duration_seconds', {}, 'sessionkeeper_sweep_duration_seconds_count'), 1);
        assert.ok((await storeCallsOf(registry, 'purgeExpired')).count > 0, 'the sweep\'s calls are timed too');
      } finally {
        await handle.close();
      }
    });

    test('calls to an unreachable store are counted as errors and timed; a scrape still succeeds, without a live count', async () => {
      const handle = await createSessionApp(kind, { store: unreachableStore(kind) });
      try {
        const { registry } = handle.sessions.metrics;
        await request(handle.app.callback()).post('/write?step=1').expect(503);
        assert.equal((await storeCallsOf(registry, 'init')).errors, 1, 'start-up\'s init failed');
        const create = await storeCallsOf(registry, 'create');
        assert.deepEqual([create.count, create.errors], [1, 1]);

        const text = await registry.metrics();
        assert.doesNotMatch(text, /^sessionkeeper_sessions_live /m, 'no live count before the store ever answered: 0 would mislead');
        assert.match(text, /^# TYPE sessionkeeper_sessions_live gauge$/m);
        assert.equal((await storeCallsOf(registry, 'count')).errors, 1, 'the scrape\'s failed count is a store error');
      } finally {
        await handle.close();
      }
    });

    test('the live gauge counts the store\'s live sessions, reads it once per liveCacheMs, and keeps its last value while the store is down', async () => {
      const namespace = await createNamespace(kind);
      const live = namespace.open();
      const down = unreachableStore(kind);
      const registry = new Registry();
      const events = new SessionEvents(silent, kind, new EventRecorder(new MemoryEventLog(60_000), silent));
      let metrics: SessionMetrics | undefined;
      const observe = (operation: string, seconds: number, failed: boolean) => metrics!.observeStoreCall(operation, seconds, failed);
      let store = new GuardedStore(live, silent, 1_000, undefined, observe);
      let counts = 0;
      metrics = new SessionMetrics({ registry, events, liveCacheMs: 300, countLive: () => {
        counts++;
        return store.count(Date.now());
      } });
      const gauge = () => sampleOf(registry, 'sessionkeeper_sessions_live');
      try {
        await live.init();
        await seedSessions(live, { count: 3 });
        await seedSessions(live, { count: 2, expiresInMs: -60_000 });
        assert.equal(await gauge(), 3, 'expired sessions are not live');
        await seedSessions(live, { count: 1 });
        assert.equal(await gauge(), 3, 'within liveCacheMs a scrape reuses the last count');
        assert.equal(counts, 1);
        await sleep(350);
        assert.equal(await gauge(), 4);
        assert.equal(counts, 2);

        store = new GuardedStore(down, silent, 1_000, undefined, observe);
        await sleep(350);
        assert.match(await registry.metrics(), /^sessionkeeper_sessions_live 4$/m, 'the scrape succeeds with the last count');
        assert.equal(counts, 3);
        assert.equal(await sampleOf(registry, 'sessionkeeper_store_errors_total', { operation: 'count' }), 1);
      } finally {
        metrics.close();
        await Promise.all([live.close(), down.close()]);
        await namespace.remove();
      }
    });
  });
}

describe('metrics independent of the store', () => {
  test('events that never reach the shared event log are counted', async () => {
    // The file store keeps its event log in the store itself: an unreachable one refuses every append.
    const handle = await createSessionApp('file', { store: unreachableStore('file') });
    try {
      handle.sessions.events.record('session.created', { sid: 'a' });
      handle.sessions.events.record('session.created', { sid: 'b' });
      await handle.sessions.events.flushed();
      assert.equal(await sampleOf(handle.sessions.metrics.registry, 'sessionkeeper_events_dropped_total'), 2);
    } finally {
      await handle.close();
    }
  });

  test('session.moved is counted, and close() stops counting events but keeps the values', async () => {
    const handle = await createSessionApp('file');
    try {
      const { metrics, events } = handle.sessions;
      // Recorded by a backend switch; its name is not in LifecycleEventName yet.
      events.emit('event', { event: 'session.moved', sid: 'a', store: 'file', at: new Date().toISOString() });
      assert.equal(await sampleOf(metrics.registry, 'sessionkeeper_sessions_moved_total'), 1);
      metrics.close();
      events.record('session.created', { sid: 'b' });
      assert.equal(await sampleOf(metrics.registry, 'sessionkeeper_sessions_created_total'), 0);
      assert.equal(await sampleOf(metrics.registry, 'sessionkeeper_sessions_moved_total'), 1);
    } finally {
      await handle.close();
    }
  });

  test('an app\'s own registry gets the metrics beside its own; a second sessionkeeper on it is refused with a clear error', async () => {
    const namespace = await createNamespace('file');
    const registry = new Registry();
    const appRequests = new Counter({ name: 'app_requests_total', help: 'The app\'s own metric.', registers: [registry] });
    appRequests.inc(7);
    const keeper = await createSessionkeeper(new Koa(), testSessionOptions(namespace), { logger: silent, store: namespace.open(), metricsRegistry: registry });
    try {
      assert.equal(keeper.metrics.registry, registry);
      const text = await registry.metrics();
      assert.match(text, /^app_requests_total 7$/m, 'the app keeps its own metrics');
      assert.match(text, /^# TYPE sessionkeeper_sessions_created_total counter$/m);
      assert.match(text, /^# TYPE sessionkeeper_store_operation_duration_seconds histogram$/m);
      const names = registry.getMetricsAsArray().map((metric) => metric.name);

      const second = namespace.open();
      await assert.rejects(
        createSessionkeeper(new Koa(), testSessionOptions(namespace), { logger: silent, store: second, metricsRegistry: registry }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.setting, 'metricsRegistry');
          assert.match(err.message, /metricsRegistry already holds sessionkeeper_sessions_created_total/);
          assert.match(err.message, /registry of its own/);
          return true;
        },
      );
      await second.close();
      assert.deepEqual(registry.getMetricsAsArray().map((metric) => metric.name), names, 'the refused one registered nothing');
      keeper.events.record('session.created', { sid: 'a' });
      assert.equal(await sampleOf(registry, 'sessionkeeper_sessions_created_total'), 1, 'the first one still counts');
    } finally {
      await keeper.close();
      await namespace.remove();
    }
  });

  test('by default each sessionkeeper has a registry of its own, and prom-client\'s global registry stays empty', async () => {
    const namespace = await createNamespace('file');
    const keepers = await Promise.all([1, 2].map(() => createSessionkeeper(new Koa(), testSessionOptions(namespace), { logger: silent, store: namespace.open() })));
    try {
      assert.notEqual(keepers[0]!.metrics.registry, keepers[1]!.metrics.registry);
      assert.notEqual(keepers[0]!.metrics.registry, globalRegistry);
      assert.equal(globalRegistry.getSingleMetric('sessionkeeper_sessions_created_total'), undefined);
      keepers[0]!.events.record('session.created', { sid: 'a' });
      assert.equal(await sampleOf(keepers[0]!.metrics.registry, 'sessionkeeper_sessions_created_total'), 1);
      assert.equal(await sampleOf(keepers[1]!.metrics.registry, 'sessionkeeper_sessions_created_total'), 0);
    } finally {
      await Promise.all(keepers.map((keeper) => keeper.close()));
      await namespace.remove();
    }
  });
});
