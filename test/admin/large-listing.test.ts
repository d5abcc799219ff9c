import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { seedSessions } from '../helpers/seeded-sessions.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

const SESSION_COUNT = 10_000;
const PAGE_SIZE = 50;

for (const kind of STORE_KINDS) {
  describe(`listing ${SESSION_COUNT} sessions (${kind} store)`, () => {
    let site: TestApp;

    before(async () => {
      site = await createTestApp(kind);
      const startedMs = performance.now();
      await seedSessions(site.store, { count: SESSION_COUNT, batchSize: 200 });
      console.log(`${kind}: seeded ${SESSION_COUNT} sessions in ${Math.round(performance.now() - startedMs)} ms`);
    });
    after(() => site.close());

    test('the first API page answers with `limit` sessions and a cursor, in both sorts', async () => {
      for (const sort of ['activity', 'expiry']) {
        const startedMs = performance.now();
        const res = await request(site.app.callback()).get(`/admin/api/sessions?limit=${PAGE_SIZE}&sort=${sort}`).set('Authorization', basicAuth()).expect(200);
        console.log(`${kind}: first API page (sort=${sort}) of ${SESSION_COUNT} in ${(performance.now() - startedMs).toFixed(1)} ms`);
        assert.equal(res.body.sessions.length, PAGE_SIZE);
        assert.equal(typeof res.body.nextCursor, 'string');
        const second = await request(site.app.callback()).get(`/admin/api/sessions?limit=${PAGE_SIZE}&sort=${sort}&cursor=${res.body.nextCursor}`).set('Authorization', basicAuth()).expect(200);
        assert.equal(second.body.sessions.length, PAGE_SIZE);
        const firstIds = new Set(res.body.sessions.map((s: { id: string }) => s.id));
        assert.ok(second.body.sessions.every((s: { id: string }) => !firstIds.has(s.id)), 'the second page continues after the first');
      }
    });

    test('the sessions page answers with the totals and `limit` rows', async () => {
      const agent = site.agent();
      await site.signIn(agent);
      const startedMs = performance.now();
      const page = await agent.get(`/admin?limit=${PAGE_SIZE}`).expect(200);
      console.log(`${kind}: sessions page (list + count + next expiry) of ${SESSION_COUNT} in ${(performance.now() - startedMs).toFixed(1)} ms`);
      assert.equal([...page.text.matchAll(/<tr data-session-id=/g)].length, PAGE_SIZE);
      assert.match(page.text, new RegExp(`<span class="total-value">${SESSION_COUNT}</span>`));
    });
  });
}
