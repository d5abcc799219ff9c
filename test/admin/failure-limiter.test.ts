import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureLimiter } from '../../admin/failure-limiter.ts';

const limits = { maxFailures: 3, windowMs: 60_000, lockMs: 120_000, maxEntries: 5 };

describe('FailureLimiter', () => {
  test('locks an address after maxFailures within the window, for lockMs', () => {
    const limiter = new FailureLimiter(limits);
    assert.equal(limiter.recordFailure('a', 1000), 0);
    assert.equal(limiter.recordFailure('a', 2000), 0);
    assert.equal(limiter.retryAfterMs('a', 2000), 0);
    assert.equal(limiter.recordFailure('a', 3000), 120_000);
    assert.equal(limiter.retryAfterMs('a', 63_000), 60_000);
    assert.equal(limiter.retryAfterMs('b', 63_000), 0, 'other addresses are not locked');
    assert.equal(limiter.retryAfterMs('a', 123_000), 0, 'the lock runs out');
  });

  test('failures older than the window do not count', () => {
    const limiter = new FailureLimiter(limits);
    limiter.recordFailure('a', 0);
    limiter.recordFailure('a', 30_000);
    assert.equal(limiter.recordFailure('a', 61_000), 0, 'the first failure left the window');
    assert.equal(limiter.recordFailure('a', 62_000), 120_000);
  });

  test('remembers at most maxEntries addresses, dropping expired ones first, then the oldest', () => {
    const limiter = new FailureLimiter(limits);
    for (let i = 0; i < 3; i++) limiter.recordFailure('locked', i);
    for (let i = 0; i < 4; i++) limiter.recordFailure(`old-${i}`, 10);
    for (let i = 0; i < 1000; i++) limiter.recordFailure(`spray-${i}`, 100_000 + i);
    assert.ok(limiter.size <= limits.maxEntries, `size ${limiter.size}`);
    // Expired entries went first; under a spray the oldest go next, which only ever forgets failures.
    assert.equal(limiter.retryAfterMs('old-0', 100_000), 0);
    assert.equal(limiter.retryAfterMs('locked', 100_500), 0, 'a spray from many addresses can forget an old lock: the documented trade-off');
    assert.equal(limiter.recordFailure('spray-999', 101_000), 0, 'the newest entries are kept and counted');
    assert.equal(limiter.recordFailure('spray-999', 101_001), 120_000);
  });
});
