import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, formatTime } from '../../server/format.ts';

test('formatBytes', () => {
  assert.equal(formatBytes(0), '0 bytes');
  assert.equal(formatBytes(1), '1 byte');
  assert.equal(formatBytes(1023), '1023 bytes');
  assert.equal(formatBytes(1024), '1 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(1_048_576), '1 MiB');
  assert.equal(formatBytes(1024 ** 3), '1 GiB');
});

test('formatDuration uses the largest unit that divides evenly', () => {
  assert.equal(formatDuration(1_800_000), '30 minutes');
  assert.equal(formatDuration(90_000), '90 seconds');
  assert.equal(formatDuration(3_600_000), '1 hour');
  assert.equal(formatDuration(86_400_000), '1 day');
  assert.equal(formatDuration(36 * 3_600_000), '36 hours');
  assert.equal(formatDuration(1500), '1500 ms');
});

test('formatTime shows UTC to the minute', () => {
  assert.equal(formatTime('2025-01-31T14:05:59.999Z'), '2025-01-31 14:05 UTC');
  assert.equal(formatTime('not a time'), 'not a time');
});
