/**
 * The shared event log refusing appends while the sessions themselves work
 * (a Redis key of the wrong type, a PostgreSQL table gone, a file where the
 * log's directory should be): no request fails or waits for it, every event
 * still gets its JSON log line, the lost events are counted in the metrics,
 * and the outage is logged once when it starts and once when it ends. On
 * every store, each broken its own real way.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import request from 'supertest';
import { EVENT_LOG_DIR } from '../../middleware/event-log/file-event-log.ts';
import { eventLogTableNames } from '../../middleware/event-log/postgres-event-log.ts';
import type { StoreKind } from '../../middleware/store.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { STORE_KINDS, TEST_DATABASE_URL, TEST_REDIS_URL, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { textFileForm } from '../helpers/upload-forms.ts';

const VISITORS_DURING_OUTAGE = 5;

/** Breaks the namespace's event log on its real backend, and mends it. */
interface LogFault {
  breakLog(): Promise<void>;
  mendLog(): Promise<void>;
}

function faultFor(kind: StoreKind, namespace: StoreNamespace): LogFault {
  switch (kind) {
    case 'file': {
      const path = join(namespace.env.SESSION_FILE_DIR!, EVENT_LOG_DIR);
      return {
        breakLog: async () => {
          await rm(path, { recursive: true, force: true });
          await writeFile(path, 'a file where the log directory should be');
        },
        mendLog: () => rm(path),
      };
    }
    case 'redis': {
      const key = `${namespace.env.SESSION_REDIS_PREFIX}_events`;
      const onRedis = async (work: (client: ReturnType<typeof createClient>) => Promise<unknown>) => {
        const client = createClient({ url: TEST_REDIS_URL });
        await client.connect();
        try {
          await work(client);
        } finally {
          await client.close();
        }
      };
      return {
        breakLog: () => onRedis(async (client) => {
          await client.del(key);
          await client.set(key, 'a string where the stream should be');
        }),
        mendLog: () => onRedis((client) => client.del(key)),
      };
    }
    case 'postgres': {
      const { log } = eventLogTableNames(namespace.env.SESSION_PG_TABLE!);
      const onPostgres = async (sql: string) => {
        const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await client.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      };
      return {
        breakLog: () => onPostgres(`ALTER TABLE "${log}" RENAME TO "${log}_away"`),
        mendLog: () => onPostgres(`ALTER TABLE "${log}_away" RENAME TO "${log}"`),
      };
    }
  }
}

for (const kind of STORE_KINDS) {
  describe(`the shared event log refusing appends (${kind} store)`, () => {
    let site: TestApp;
    before(async () => {
      site = await createTestApp(kind);
    });
    after(() => site.close());

    const upload = async () => {
      const form = textFileForm('a line');
      const res = await request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body);
      return res.status;
    };
    const droppedMetric = async () => {
      const res = await request(site.app.callback()).get('/admin/metrics').set('Authorization', basicAuth()).expect(200);
      return Number(/^sessionkeeper_events_dropped_total (\d+)$/m.exec(res.text)?.[1]);
    };
    const linesSaying = (message: string) => site.logs.lines().filter((line) => line.msg === message);

    test('no request fails, every event keeps its log line, the loss is counted and logged once per outage', async () => {
      await site.sessions.eventLog.init(); // the log's table or directory exists before it is broken
      const fault = faultFor(kind, site.namespace);
      await fault.breakLog();
      try {
        for (let i = 0; i < VISITORS_DURING_OUTAGE; i++) assert.equal(await upload(), 303, 'the visitor is served');
        await site.sessions.events.flushed();
        assert.equal(await site.store.count(Date.now()), VISITORS_DURING_OUTAGE, 'every session was stored');
        assert.equal(linesSaying('session.created').length, VISITORS_DURING_OUTAGE, 'each event still has its JSON line');
        assert.equal(await droppedMetric(), VISITORS_DURING_OUTAGE, 'each lost event counted');
        const outage = linesSaying('shared event log unavailable: lifecycle events are logged here but not stored until it answers');
        assert.equal(outage.length, 1, 'the outage is logged once');
        assert.equal(outage[0]!.level, 50);
      } finally {
        await fault.mendLog();
      }

      assert.equal(await upload(), 303);
      await site.sessions.events.flushed();
      const recovered = linesSaying('shared event log answering again; events recorded meanwhile were not stored');
      assert.equal(recovered.length, 1, 'the recovery is logged once');
      assert.equal(recovered[0]!.dropped, VISITORS_DURING_OUTAGE);
      assert.equal(await droppedMetric(), VISITORS_DURING_OUTAGE, 'nothing lost after the log answers again');
      const feed = (await request(site.app.callback()).get('/admin/api/events').set('Authorization', basicAuth()).expect(200)).body.events;
      assert.deepEqual(feed.map((e: { event: string }) => e.event), ['session.created'], 'only the event after the outage is in the log');

      // A second outage is a new one: logged again, once.
      const fault2 = faultFor(kind, site.namespace);
      await fault2.breakLog();
      try {
        assert.equal(await upload(), 303);
        await site.sessions.events.flushed();
      } finally {
        await fault2.mendLog();
      }
      assert.equal(linesSaying('shared event log unavailable: lifecycle events are logged here but not stored until it answers').length, 2);
      assert.equal(await droppedMetric(), VISITORS_DURING_OUTAGE + 1);
    });
  });
}
