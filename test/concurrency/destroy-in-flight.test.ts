/**
 * A session ended while other requests for it are in flight stays ended
 * (README, "Session lifetime"): requests that loaded it before the end
 * must not write it back. Ended by the visitor (/forget) or by an operator
 * (DELETE /admin/api/sessions/:id), on every store, over several rounds so
 * that the end lands at different points of the other requests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { Visitor } from '../helpers/visitor.ts';

const ROUNDS = 5;
const REQUESTS_IN_FLIGHT = 40;
/** Store-level rounds; before the file store serialised its check-and-rename, about one in five brought the session back. */
const STORE_ROUNDS = 30;
const WRITES_PER_ROUND = 40;

/** A visitor sending the same cookies, whose answers do not change the original's cookies. */
function sameCookies(visitor: Visitor): Visitor {
  const copy = new Visitor(visitor.baseUrl);
  copy.cookies = new Map(visitor.cookies);
  return copy;
}

type Ender = (site: ListeningTestApp, visitor: Visitor) => Promise<number>;

const enders: Record<string, Ender> = {
  'the visitor (POST /forget)': (_site, visitor) => sameCookies(visitor).forget(),
  'an operator (DELETE /admin/api/sessions/:id)': async (site, visitor) => {
    const id = publicIdOf(visitor.rawSessionId!);
    const res = await fetch(`${site.url}/admin/api/sessions/${id}`, { method: 'DELETE', headers: { Authorization: basicAuth() } });
    await res.arrayBuffer();
    return res.status;
  },
};
const ENDED_STATUS: Record<string, number> = { 'the visitor (POST /forget)': 303, 'an operator (DELETE /admin/api/sessions/:id)': 200 };

for (const kind of STORE_KINDS) {
  describe(`a session ended while requests for it are in flight (${kind} store)`, () => {
    let site: ListeningTestApp;
    before(async () => {
      site = await createTestApp(kind, { listen: true });
    });
    after(() => site?.close());

    test('at the store: updates and rolling reads racing a destroy never bring the session back', async () => {
      const store = site.sessions.store;
      for (let round = 0; round < STORE_ROUNDS; round++) {
        const id = publicIdOf(newSessionId());
        const nowMs = Date.now();
        const record = { data: { round }, createdAt: nowMs, lastSeenAt: nowMs, expiresAt: nowMs + 60_000 };
        await store.create(id, record);
        // Writes start a timer tick apart, the destroy among them: some write is always between its check and its write.
        const calls: Promise<unknown>[] = [];
        for (let i = 0; i < WRITES_PER_ROUND; i++) {
          if (i === WRITES_PER_ROUND / 2) calls.push(store.destroy(id).then((removed) => assert.equal(removed, true)));
          calls.push(i % 2 === 0 ? store.update(id, { ...record, data: { round, i } }, nowMs) : store.get(id, nowMs + i, { idleTtlMs: 60_000, absoluteTtlMs: 0 }));
          await sleep(0);
        }
        await Promise.all(calls);
        assert.equal(await store.get(id, 0), undefined, `round ${round}: the destroyed session came back`);
      }
    });

    for (const [by, end] of Object.entries(enders)) {
      test(`ended by ${by}: it stays ended, and no request in flight brings it back`, async () => {
        for (let round = 0; round < ROUNDS; round++) {
          const visitor = new Visitor(site.url);
          assert.equal(await visitor.upload('about to end\n', 'e.txt'), 303);
          const id = publicIdOf(visitor.rawSessionId!);

          const inFlight = Array.from({ length: REQUESTS_IN_FLIGHT }, (_, i) =>
            i % 2 === 0 ? sameCookies(visitor).upload(`late write ${i}\n`, 'late.txt') : sameCookies(visitor).read().then((shown) => shown.status),
          );
          // The end lands among the other requests: after some have loaded the session, before they have written it.
          await sleep(round);
          const endStatus = await end(site, visitor);
          const statuses = await Promise.all(inFlight);

          assert.equal(endStatus, ENDED_STATUS[by], `round ${round}: the end was accepted`);
          assert.ok(statuses.every((status) => status < 500), `round ${round}: no 5xx (${statuses.join(' ')})`);
          assert.equal(await site.sessions.store.get(id, 0), undefined, `round ${round}: the ended session is not in the store`);
          const listed = await fetch(`${site.url}/admin/api/sessions?limit=1000`, { headers: { Authorization: basicAuth() } });
          const ids = ((await listed.json()) as { sessions: { id: string }[] }).sessions.map((session) => session.id);
          assert.ok(!ids.includes(id), `round ${round}: the ended session is not listed`);
          const shown = await sameCookies(visitor).read();
          assert.equal(shown.uploaded, false, `round ${round}: the old cookie finds nothing`);
        }
      });
    }
  });
}
