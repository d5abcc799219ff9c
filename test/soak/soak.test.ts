/**
 * The soak's short mode, part of `npm test`: a few seconds of mixed load per
 * store (see soak.ts), the three stores at once. The long mode runs on demand:
 * `npm run soak -- --minutes 5`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { formatReport, problemsOf, runSoak } from './soak.ts';

const SHORT_SOAK_MS = 12_000;

describe('soak, short mode', { concurrency: true }, () => {
  for (const kind of STORE_KINDS) {
    test(`${kind} store: no 5xx, no session lost, nothing left after the TTL, server memory flat`, async (t) => {
      const report = await runSoak({ kind, durationMs: SHORT_SOAK_MS, visitors: 30, idleTtlMs: 3_000 });
      for (const line of formatReport(report).split('\n')) t.diagnostic(line);
      assert.deepEqual(problemsOf(report), []);
      assert.ok(report.requests > 0 && report.expiredAsExpected + report.endedOnPurpose > 0, 'the load exercised expiry and ending');
    });
  }
});
