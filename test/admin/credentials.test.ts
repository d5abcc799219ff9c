import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialsMatch, parseBasicAuthorization, secretsEqual } from '../../admin/credentials.ts';

describe('secretsEqual', () => {
  test('is true only for equal strings, whatever their lengths', () => {
    assert.equal(secretsEqual('s3cret-password', 's3cret-password'), true);
    assert.equal(secretsEqual('s3cret-password', 's3cret-passwore'), false);
    assert.equal(secretsEqual('s3cret', 's3cret-password'), false);
    assert.equal(secretsEqual('', 'x'), false);
    assert.equal(secretsEqual('ünïcödé', 'ünïcödé'), true);
  });
});

describe('credentialsMatch', () => {
  const expected = { user: 'admin', password: 'long enough secret' };

  test('needs both the user name and the password', () => {
    assert.equal(credentialsMatch({ user: 'admin', password: 'long enough secret' }, expected), true);
    assert.equal(credentialsMatch({ user: 'admin', password: 'long enough secreT' }, expected), false);
    assert.equal(credentialsMatch({ user: 'root', password: 'long enough secret' }, expected), false);
    assert.equal(credentialsMatch({ user: '', password: '' }, expected), false);
  });
});

describe('parseBasicAuthorization', () => {
  const encode = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

  test('reads user and password; the password may contain colons', () => {
    assert.deepEqual(parseBasicAuthorization(encode('admin:pa:ss word')), { user: 'admin', password: 'pa:ss word' });
    assert.deepEqual(parseBasicAuthorization(encode('admin:')), { user: 'admin', password: '' });
    assert.deepEqual(parseBasicAuthorization(`basic ${Buffer.from('a:b').toString('base64')}`), { user: 'a', password: 'b' });
  });

  test('rejects other schemes, missing colons and broken base64', () => {
    assert.equal(parseBasicAuthorization(undefined), undefined);
    assert.equal(parseBasicAuthorization(''), undefined);
    assert.equal(parseBasicAuthorization('Bearer abc'), undefined);
    assert.equal(parseBasicAuthorization(encode('no-colon')), undefined);
    assert.equal(parseBasicAuthorization('Basic !!!'), undefined);
  });
});
