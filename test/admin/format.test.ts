import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEvent, formatTimeAgo, formatTimeLeft, shortId } from '../../admin/format.ts';

// Sizes, times and durations are the site's formatters, tested in test/site/format.test.ts.
describe('dashboard formatting', () => {
  test('time left and time ago', () => {
    assert.equal(formatTimeLeft(70_000, 10_000), 'in 1m');
    assert.equal(formatTimeLeft(10_000, 10_000), 'expired');
    assert.equal(formatTimeAgo(10_000, 10_500), 'just now');
    assert.equal(formatTimeAgo(10_000, 75_000), '1m 5s ago');
  });

  test('ids', () => {
    assert.equal(shortId('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'), 'abcdefghijkl…');
    assert.equal(shortId('short'), 'short');
  });

  test('event details say who ended a session and what a purge removed', () => {
    const base = { store: 'file' as const, at: new Date(0).toISOString() };
    assert.equal(describeEvent({ ...base, event: 'session.destroyed', sid: 'x', by: 'admin' }), 'by admin');
    assert.equal(describeEvent({ ...base, event: 'session.destroyed', sid: 'x', by: 'user', owner: 'ada' }), 'by user, owner ada');
    assert.equal(describeEvent({ ...base, event: 'session.expired', sid: 'x', owner: 'x'.repeat(100) }), `owner ${'x'.repeat(40)}…`);
    assert.equal(describeEvent({ ...base, event: 'sessions.purged', count: 3, scope: 'expired', by: 'admin' }), 'expired sessions: 3 removed by admin');
    assert.equal(describeEvent({ ...base, event: 'sessions.purged', count: 7, scope: 'all', by: 'admin' }), 'every session: 7 removed by admin');
    assert.equal(describeEvent({ ...base, event: 'session.regenerated', sid: 'y', previousSid: 'abcdefghijklmnop' }), 'was abcdefghijkl…');
    assert.equal(describeEvent({ ...base, event: 'session.created', sid: 'z' }), '');
  });
});
