import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidCursorError, encodeCursor } from '../../middleware/cursor.ts';
import { DEFAULT_PAGE_SIZE, InvalidParameterError, parseLimit, parseListQuery } from '../../admin/list-query.ts';

describe('parseListQuery', () => {
  test('defaults: 50 sessions by activity, first page', () => {
    assert.deepEqual(parseListQuery({}), { limit: DEFAULT_PAGE_SIZE, sort: 'activity' });
    assert.deepEqual(parseListQuery({ limit: '', sort: '', cursor: '' }), { limit: 50, sort: 'activity' });
  });

  test('accepts limits from 1 to 1000, both sorts and a cursor made by encodeCursor', () => {
    const cursor = encodeCursor({ score: 1_700_000_000_000, id: 'abc_DEF-123' });
    assert.deepEqual(parseListQuery({ limit: '1', sort: 'expiry', cursor }), { limit: 1, sort: 'expiry', cursor });
    assert.equal(parseLimit({ limit: '1000' }), 1000);
  });

  test('rejects limits outside 1..1000 or not whole numbers', () => {
    for (const limit of ['0', '1001', '-1', '1.5', 'abc', '1e3', ' 5', '99999']) {
      assert.throws(() => parseLimit({ limit }), InvalidParameterError, limit);
    }
  });

  test('rejects unknown sorts, repeated parameters and malformed cursors', () => {
    assert.throws(() => parseListQuery({ sort: 'created' }), InvalidParameterError);
    assert.throws(() => parseListQuery({ limit: ['5', '6'] }), InvalidParameterError);
    assert.throws(() => parseListQuery({ sort: ['expiry', 'activity'] }), InvalidParameterError);
    for (const cursor of ['zzz', '!!', 'a'.repeat(300), Buffer.from('12:../etc').toString('base64url')]) {
      assert.throws(() => parseListQuery({ cursor }), InvalidCursorError, cursor);
    }
  });

  test('errors carry status 400 and a message for the client', () => {
    try {
      parseLimit({ limit: '0' });
      assert.fail('expected an error');
    } catch (err) {
      assert.equal((err as InvalidParameterError).status, 400);
      assert.equal((err as InvalidParameterError).expose, true);
      assert.match((err as Error).message, /1 to 1000/);
    }
  });
});
