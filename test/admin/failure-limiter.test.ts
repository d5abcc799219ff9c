import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureLimiter, type FailureLimiterOptions } from '../../admin/failure-limiter.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { createNamespace, STORE_KINDS, type StoreNamespace } from '../helpers/store-fixtures.ts';

const limits: FailureLimiterOptions = {
  perAddress: { maxFailures: 3, windowMs: 60_000, lockMs: 120_000 },
  perAccount: { maxFailures: 10, windowMs: 600_000, lockMs: 900_000 },
};
/** Per-account counting out of the way, for tests about addresses alone. */
const addressOnly: FailureLimiterOptions = { ...limits, perAccount: { maxFailures: 1_000_000, windowMs: 600_000, lockMs: 900_000 } };

for (const kind of STORE_KINDS) {
  describe(`FailureLimiter counting in the ${kind} store`, () => {
    let namespace: StoreNamespace;
    const opened: SessionStore[] = [];
    /** The limiter as one server process (or a restarted one) has it, over the test's store. */
    const limiterOf = async (options = limits) => {
      const store = namespace.open();
      await store.init();
      opened.push(store);
      return new FailureLimiter(store, options);
    };
    before(async () => {
      namespace = await createNamespace(kind);
    });
    after(async () => {
      for (const store of opened) await store.close();
      await namespace.remove();
    });

    test('locks an address after maxFailures within the window, for lockMs from the failure that locked it', async () => {
      const limiter = await limiterOf();
      const t = Date.now();
      assert.equal(await limiter.recordFailure('10.0.0.1', 'ops', t), undefined);
      assert.equal(await limiter.recordFailure('10.0.0.1', 'ops', t + 1000), undefined);
      assert.equal(await limiter.lockOf('10.0.0.1', 'ops', t + 1000), undefined);
      assert.deepEqual(await limiter.recordFailure('10.0.0.1', 'ops', t + 2000), { scope: 'address', retryAfterMs: 120_000 });
      assert.deepEqual(await limiter.lockOf('10.0.0.1', 'ops', t + 62_000), { scope: 'address', retryAfterMs: 60_000 });
      assert.equal(await limiter.lockOf('10.0.0.2', 'ops', t + 62_000), undefined, 'other addresses are not locked');
      assert.equal(await limiter.lockOf('10.0.0.1', 'ops', t + 122_000), undefined, 'the lock runs out');
    });

    test('failures of an earlier window do not count', async () => {
      const limiter = await limiterOf();
      const t = Date.now();
      await limiter.recordFailure('a', 'ops-window', t);
      await limiter.recordFailure('a', 'ops-window', t + 30_000);
      assert.equal(await limiter.recordFailure('a', 'ops-window', t + 60_000), undefined, 'the window of the first failure is over');
      await limiter.recordFailure('a', 'ops-window', t + 61_000);
      assert.equal((await limiter.recordFailure('a', 'ops-window', t + 62_000))?.scope, 'address');
    });

    test('every process and a restart see the same counts and locks', async () => {
      const [first, second] = [await limiterOf(), await limiterOf()];
      const t = Date.now();
      await first.recordFailure('192.0.2.7', 'ops-shared', t);
      await second.recordFailure('192.0.2.7', 'ops-shared', t);
      assert.equal((await first.recordFailure('192.0.2.7', 'ops-shared', t))?.scope, 'address', 'the third failure, in whichever process, locks');
      assert.equal((await second.lockOf('192.0.2.7', 'ops-shared', t + 1000))?.scope, 'address');
      const restarted = await limiterOf();
      assert.equal((await restarted.lockOf('192.0.2.7', 'ops-shared', t + 1000))?.scope, 'address');
    });

    test('many failures on one account from many addresses lock the account, for every address', async () => {
      const limiter = await limiterOf();
      const t = Date.now();
      const locks = [];
      for (let i = 0; i < 10; i++) locks.push(await limiter.recordFailure(`198.51.100.${i}`, 'ops-account', t + i));
      assert.deepEqual(locks.slice(0, 9), Array(9).fill(undefined), 'no address failed often enough on its own');
      assert.deepEqual(locks[9], { scope: 'account', retryAfterMs: 900_000 });
      assert.equal((await limiter.lockOf('203.0.113.99', 'ops-account', t + 60_000))?.scope, 'account', 'an address that never failed is refused too');
      assert.equal(await limiter.lockOf('203.0.113.99', 'other-account', t + 60_000), undefined, 'another account is not');
    });

    test('concurrent failures from one address are all counted: a burst cannot slip past the limit', async () => {
      const limiter = await limiterOf(addressOnly);
      const t = Date.now();
      const locks = await Promise.all(Array.from({ length: 10 }, () => limiter.recordFailure('192.0.2.50', 'ops-burst', t)));
      assert.equal(locks.filter((lock) => lock?.scope === 'address').length, 8, 'the 3rd to the 10th failure each report the lock');
    });

    test('a locked address stays locked however many other addresses fail (10,005 of them)', async () => {
      const limiter = await limiterOf(addressOnly);
      const t = Date.now();
      for (let i = 0; i < 3; i++) await limiter.recordFailure('192.0.2.1', 'ops-spray', t);
      assert.equal((await limiter.lockOf('192.0.2.1', 'ops-spray', t))?.scope, 'address');
      const others = Array.from({ length: 10_005 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      // Past the 10,000 addresses the old in-memory limiter kept (docs/security.md). Each failure names an account
      // of its own: one shared account's counter would take its 10,005 increments one at a time, each under that
      // counter's lock, most of this test's time on the file store; the account counts are not what it is about.
      for (let start = 0; start < others.length; start += 100) {
        await Promise.all(others.slice(start, start + 100).map((address, i) => limiter.recordFailure(address, `ops-spray-${start + i}`, t + 1000)));
      }
      assert.equal((await limiter.lockOf('192.0.2.1', 'ops-spray', t + 2000))?.scope, 'address', 'still locked');
    });
  });
}
