import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDurationLong, formatDurationShort, formatTime } from '../../web/format.ts';

test('formatBytes', () => {
  assert.equal(formatBytes(0), '0 bytes');
  assert.equal(formatBytes(1), '1 byte');
  assert.equal(formatBytes(512), '512 bytes');
  assert.equal(formatBytes(1023), '1023 bytes');
  assert.equal(formatBytes(1024), '1 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(1_048_576), '1 MiB');
  assert.equal(formatBytes(3.25 * 1_048_576), '3.3 MiB');
  assert.equal(formatBytes(1024 ** 3), '1 GiB');
  assert.equal(formatBytes(3 * 1024 ** 4), '3072 GiB');
});

test('formatDurationLong says a setting exactly, in the largest unit that divides it evenly', () => {
  assert.equal(formatDurationLong(1_800_000), '30 minutes');
  assert.equal(formatDurationLong(90_000), '90 seconds');
  assert.equal(formatDurationLong(1000), '1 second');
  assert.equal(formatDurationLong(3_600_000), '1 hour');
  assert.equal(formatDurationLong(86_400_000), '1 day');
  assert.equal(formatDurationLong(36 * 3_600_000), '36 hours');
  assert.equal(formatDurationLong(1500), '1500 ms');
});

test('formatDurationShort shows the two largest whole units', () => {
  assert.equal(formatDurationShort(0), '0s');
  assert.equal(formatDurationShort(999), '0s');
  assert.equal(formatDurationShort(12_000), '12s');
  assert.equal(formatDurationShort(250_000), '4m 10s');
  assert.equal(formatDurationShort(250_999), '4m 10s');
  assert.equal(formatDurationShort(3_600_000), '1h');
  assert.equal(formatDurationShort(3_600_000 + 61_000), '1h 1m');
  assert.equal(formatDurationShort(2 * 86_400_000 + 3 * 3_600_000 + 5_000), '2d 3h');
  assert.equal(formatDurationShort(-5000), '0s');
});

test('formatTime shows UTC to the second, from milliseconds or ISO 8601', () => {
  assert.equal(formatTime(Date.UTC(2025, 10, 27, 8, 53, 10, 999)), '2025-11-27 08:53:10 UTC');
  assert.equal(formatTime('2025-01-31T14:05:59.999Z'), '2025-01-31 14:05:59 UTC');
  assert.equal(formatTime('2025-01-31T15:05:59+01:00'), '2025-01-31 14:05:59 UTC');
  assert.equal(formatTime('not a time'), 'not a time');
  assert.equal(formatTime(Number.NaN), 'NaN');
});
