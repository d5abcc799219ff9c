/**
 * The dashboard's settings (`ADMIN_PATH`, `ADMIN_USER`, `ADMIN_PASSWORD`, or
 * `createAdmin`'s options of the same names): a value not allowed stops the
 * app with one line naming the variable and saying what is allowed, from the
 * environment and from options alike; a password is never shown.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Koa from 'koa';
import { createAdmin } from '../../admin/index.ts';
import { adminOptionsFromEnv, resolveAdminSettings } from '../../admin/settings.ts';
import { createSessionkeeper, type Sessionkeeper } from '../../middleware/sessionkeeper.ts';
import { silentLogger } from '../helpers/log-capture.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { testSessionOptions } from '../helpers/test-settings.ts';
import { assertRefused } from '../helpers/config-errors.ts';

const PATH_ALLOWED = 'expected a path prefix like /admin or /ops/sessions (letters, digits, . _ ~ -; no trailing slash)';

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('ADMIN_PATH', () => {
  const wrong = [
    'admin', '/', '/admin/', '/a/../b', '/a/./b', '/..', '/a b', '/x?y', '/x#y', '/x%2Fy', '//admin', '/a//b', '/ädmin',
    `/${'a'.repeat(65)}`, '/a/b/c/d/e/f/g/h/i',
  ];
  for (const path of wrong) {
    test(`${JSON.stringify(path)} is refused, naming ADMIN_PATH and what is allowed`, () => {
      assertRefused(() => adminOptionsFromEnv({ ADMIN_PATH: path }), 'ADMIN_PATH', new RegExp(`^ADMIN_PATH=${escaped(JSON.stringify(path))} is not valid: ${escaped(PATH_ALLOWED)}$`));
    });
  }

  test('a path prefix of one to eight segments is taken as it is; empty counts as unset', () => {
    for (const path of ['/admin', '/ops/sessions', '/a.b/c~d_e-f', '/A1', `/${'a'.repeat(64)}`, '/a/b/c/d/e/f/g/h']) {
      assert.equal(adminOptionsFromEnv({ ADMIN_PATH: path }).path, path);
    }
    assert.equal(adminOptionsFromEnv({ ADMIN_PATH: '' }).path, undefined);
    assert.equal(resolveAdminSettings(adminOptionsFromEnv({ ADMIN_PATH: '' })).path, '/admin');
  });
});

describe('ADMIN_USER and ADMIN_PASSWORD', () => {
  test('the defaults: user admin, no password (the dashboard then answers 503 saying how to set one)', () => {
    assert.deepEqual(resolveAdminSettings(adminOptionsFromEnv({})), { path: '/admin', user: 'admin', password: undefined });
    assert.deepEqual(adminOptionsFromEnv({ ADMIN_USER: '', ADMIN_PASSWORD: '' }), {});
  });

  test('reads every variable', () => {
    assert.deepEqual(adminOptionsFromEnv({ ADMIN_PATH: '/ops', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'a long secret' }), { path: '/ops', user: 'ops', password: 'a long secret' });
  });

  for (const user of ['a:b', 'a b', 'tab\tuser', 'u'.repeat(129)]) {
    test(`user ${JSON.stringify(user.slice(0, 20))} is refused: no spaces or colons (Basic credentials split at the colon), at most 128`, () => {
      assertRefused(
        () => adminOptionsFromEnv({ ADMIN_USER: user }),
        'ADMIN_USER',
        /^ADMIN_USER=".*" is not valid: expected a user name of 1 to 128 characters without spaces or colons$/,
      );
    });
  }

  test('a password under 8 characters is refused without showing it', () => {
    for (const password of ['short', '1234567']) {
      assertRefused(
        () => adminOptionsFromEnv({ ADMIN_PASSWORD: password }),
        'ADMIN_PASSWORD',
        /^ADMIN_PASSWORD=\(hidden\) is not valid: expected a password of at least 8 characters \(at most 1024, on one line\)$/,
      );
      assert.throws(() => adminOptionsFromEnv({ ADMIN_PASSWORD: password }), (err: Error) => !err.message.includes(password));
    }
    assert.equal(adminOptionsFromEnv({ ADMIN_PASSWORD: '12345678' }).password, '12345678');
  });
});

describe('createAdmin options', () => {
  let namespace: StoreNamespace;
  let sessions: Sessionkeeper;
  before(async () => {
    namespace = await createNamespace('file');
    sessions = await createSessionkeeper(new Koa(), testSessionOptions(namespace), { logger: silentLogger() });
  });
  after(async () => {
    await sessions.close();
    await namespace.remove();
  });

  const PASSWORD = 'a long enough secret';
  const cases: [Parameters<typeof createAdmin>[1], string, RegExp][] = [
    [{ path: 'ops', password: PASSWORD }, 'ADMIN_PATH', new RegExp(`^ADMIN_PATH \\(option path\\)="ops" is not valid: ${escaped(PATH_ALLOWED)}$`)],
    [{ path: '/', password: PASSWORD }, 'ADMIN_PATH', /^ADMIN_PATH \(option path\)="\/" is not valid/],
    [{ path: '/ops/', password: PASSWORD }, 'ADMIN_PATH', /^ADMIN_PATH \(option path\)="\/ops\/" is not valid/],
    [{ path: '/a/../b', password: PASSWORD }, 'ADMIN_PATH', /^ADMIN_PATH \(option path\)="\/a\/\.\.\/b" is not valid/],
    [{ user: 'ops:root', password: PASSWORD }, 'ADMIN_USER', /^ADMIN_USER \(option user\)="ops:root" is not valid: expected a user name/],
    [{ user: '', password: PASSWORD }, 'ADMIN_USER', /^ADMIN_USER \(option user\)="" is not valid/],
    [{ password: 'short' }, 'ADMIN_PASSWORD', /^ADMIN_PASSWORD \(option password\)=\(hidden\) is not valid: expected a password of at least 8 characters \(at most 1024, on one line\)$/],
    [{ password: PASSWORD, streamPollMs: 0 }, 'streamPollMs', /^option streamPollMs=0 is not valid: expected a whole number from 10 to 60000 \(ms\)$/],
    [{ password: PASSWORD, streamPollMs: -1 }, 'streamPollMs', /^option streamPollMs=-1 is not valid/],
    [{ password: PASSWORD, streamPollMs: 2.5 }, 'streamPollMs', /^option streamPollMs=2.5 is not valid/],
    [{ password: PASSWORD, streamPollMs: Number.NaN }, 'streamPollMs', /^option streamPollMs=NaN is not valid/],
    [{ password: PASSWORD, streamPollMs: 120_000 }, 'streamPollMs', /^option streamPollMs=120000 is not valid/],
    [{ password: PASSWORD, streamPollMs: '500' as unknown as number }, 'streamPollMs', /^option streamPollMs="500" is not valid/],
    [{ password: PASSWORD, streamHeartbeatMs: 0 }, 'streamHeartbeatMs', /^option streamHeartbeatMs=0 is not valid: expected a whole number from 10 to 3600000 \(ms\)$/],
    [{ streamHeartbeatMs: Number.POSITIVE_INFINITY }, 'streamHeartbeatMs', /^option streamHeartbeatMs=Infinity is not valid/],
  ];
  for (const [options, setting, message] of cases) {
    test(`${JSON.stringify(options)} is refused, naming the option and its variable`, () => {
      assertRefused(() => createAdmin(sessions, options), setting, message);
    });
  }

  test('valid options, or none, build the dashboard', () => {
    assert.equal(typeof createAdmin(sessions), 'function');
    assert.equal(typeof createAdmin(sessions, { path: '/ops/sessions', user: 'ops', password: PASSWORD }), 'function');
    assert.equal(typeof createAdmin(sessions, { password: PASSWORD, streamPollMs: 10, streamHeartbeatMs: 3_600_000 }), 'function');
  });
});
