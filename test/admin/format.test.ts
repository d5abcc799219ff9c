import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEvent, formatBytes, formatDuration, formatTime, formatTimeAgo, formatTimeLeft, shortId } from '../../admin/format.ts';

describe('dashboard formatting', () => {
  test('times are UTC to the second', () => {
    assert.equal(formatTime(Date.UTC(2025, 10, 27, 8, 53, 10, 999)), '2025-11-27 08:53:10 UTC');
  });

  test('durations show their two largest units', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(999), '0s');
    assert.equal(formatDuration(12_000), '12s');
    assert.equal(formatDuration(250_000), '4m 10s');
    assert.equal(formatDuration(3_600_000), '1h');
    assert.equal(formatDuration(3_600_000 + 61_000), '1h 1m');
    assert.equal(formatDuration(2 * 86_400_000 + 3 * 3_600_000 + 5_000), '2d 3h');
    assert.equal(formatDuration(-5000), '0s');
  });

  test('time left and time ago', () => {
    assert.equal(formatTimeLeft(70_000, 10_000), 'in 1m');
    assert.equal(formatTimeLeft(10_000, 10_000), 'expired');
    assert.equal(formatTimeAgo(10_000, 10_500), 'just now');
    assert.equal(formatTimeAgo(10_000, 75_000), '1m 5s ago');
  });

  test('sizes and ids', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MiB');
    assert.equal(shortId('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'), 'abcdefghijkl…');
    assert.equal(shortId('short'), 'short');
  });

  test('event details say who ended a session and what a purge removed', () => {
    const base = { store: 'file' as const, at: new Date(0).toISOString() };
    assert.equal(describeEvent({ ...base, event: 'session.destroyed', sid: 'x', by: 'admin' }), 'by admin');
    assert.equal(describeEvent({ ...base, event: 'sessions.purged', count: 3, scope: 'expired', by: 'admin' }), 'expired sessions: 3 removed by admin');
    assert.equal(describeEvent({ ...base, event: 'sessions.purged', count: 7, scope: 'all', by: 'admin' }), 'every session: 7 removed by admin');
    assert.equal(describeEvent({ ...base, event: 'session.regenerated', sid: 'y', previousSid: 'abcdefghijklmnop' }), 'was abcdefghijkl…');
    assert.equal(describeEvent({ ...base, event: 'session.created', sid: 'z' }), '');
  });
});
