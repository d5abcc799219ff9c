/**
 * The reference server's settings (`PORT`, `HOST`, `UPLOAD_MAX_BYTES`,
 * `TRUST_PROXY`) and everything `loadSiteOptions` reads for it: the library's
 * and the dashboard's settings too. A value not allowed stops start-up with
 * one line naming the variable and saying what is allowed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSiteOptions, resolveServerSettings } from '../../server/settings.ts';
import { assertRefused } from '../helpers/config-errors.ts';

describe('server settings', () => {
  test('ADMIN_PATH may not hide the dashboard under a path the server answers itself', () => {
    for (const path of ['/static', '/static/admin', '/healthz', '/healthz/x']) {
      assertRefused(() => loadSiteOptions({ ADMIN_PATH: path }, false), 'ADMIN_PATH', /the reference server answers \/(static|healthz) itself; choose another prefix/);
    }
    for (const path of ['/statics', '/ops/static', '/health']) assert.equal(loadSiteOptions({ ADMIN_PATH: path }, false).admin.path, path);
  });

  test('the defaults: 127.0.0.1:3000, uploads up to 1 MiB, no proxy trusted; the dashboard at /admin without a password', () => {
    const options = loadSiteOptions({}, false);
    assert.deepEqual(options.server, { port: 3000, host: '127.0.0.1', uploadMaxBytes: 1_048_576, trustProxy: false });
    assert.deepEqual(options.admin, { path: '/admin', user: 'admin', password: undefined });
    assert.equal(options.sessions.store, 'file');
  });

  test('reads every variable of the server and of the dashboard', () => {
    const options = loadSiteOptions(
      { PORT: '8080', HOST: '0.0.0.0', UPLOAD_MAX_BYTES: '2048', TRUST_PROXY: 'true', ADMIN_PATH: '/ops', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'a long secret' },
      false,
    );
    assert.deepEqual(options.server, { port: 8080, host: '0.0.0.0', uploadMaxBytes: 2048, trustProxy: true });
    assert.deepEqual(options.admin, { path: '/ops', user: 'ops', password: 'a long secret' });
  });

  test('allowed forms: port 0 (any free port), IPv6 and host names, 1 and 0 for TRUST_PROXY; empty counts as unset', () => {
    assert.equal(loadSiteOptions({ PORT: '0' }, false).server.port, 0);
    assert.equal(loadSiteOptions({ PORT: '65535' }, false).server.port, 65535);
    for (const host of ['::1', '::', 'localhost', 'app.internal', '10.0.0.7']) assert.equal(loadSiteOptions({ HOST: host }, false).server.host, host);
    assert.equal(loadSiteOptions({ TRUST_PROXY: '1' }, false).server.trustProxy, true);
    assert.equal(loadSiteOptions({ TRUST_PROXY: '0' }, false).server.trustProxy, false);
    assert.equal(loadSiteOptions({ UPLOAD_MAX_BYTES: '1' }, false).server.uploadMaxBytes, 1);
    assert.deepEqual(loadSiteOptions({ PORT: '', HOST: '', UPLOAD_MAX_BYTES: '', TRUST_PROXY: '' }, false).server, resolveServerSettings());
  });

  const wrong: [Record<string, string>, string, RegExp][] = [
    [{ PORT: '70000' }, 'PORT', /^PORT="70000" is not valid: expected a whole number from 0 to 65535$/],
    [{ PORT: '-1' }, 'PORT', /^PORT="-1" is not valid: expected a whole number from 0 to 65535$/],
    [{ PORT: '80.5' }, 'PORT', /^PORT="80.5" is not valid/],
    [{ PORT: 'http' }, 'PORT', /^PORT="http" is not valid/],
    [{ PORT: ' 80' }, 'PORT', /^PORT=" 80" is not valid/],
    [{ HOST: 'my host' }, 'HOST', /^HOST="my host" is not valid: expected a host name or IP address$/],
    [{ HOST: 'http://example.com' }, 'HOST', /^HOST="http:\/\/example.com" is not valid/],
    [{ HOST: 'a/b' }, 'HOST', /^HOST="a\/b" is not valid/],
    [{ HOST: 'h'.repeat(256) }, 'HOST', /^HOST="h{256}" is not valid/],
    [{ UPLOAD_MAX_BYTES: '0' }, 'UPLOAD_MAX_BYTES', /^UPLOAD_MAX_BYTES="0" is not valid: expected a whole number from 1 to 1073741824$/],
    [{ UPLOAD_MAX_BYTES: '1073741825' }, 'UPLOAD_MAX_BYTES', /^UPLOAD_MAX_BYTES="1073741825" is not valid/],
    [{ UPLOAD_MAX_BYTES: '1MiB' }, 'UPLOAD_MAX_BYTES', /^UPLOAD_MAX_BYTES="1MiB" is not valid/],
    [{ UPLOAD_MAX_BYTES: '-5' }, 'UPLOAD_MAX_BYTES', /^UPLOAD_MAX_BYTES="-5" is not valid/],
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY', /^TRUST_PROXY="yes" is not valid: expected true or false$/],
    [{ TRUST_PROXY: 'TRUE' }, 'TRUST_PROXY', /^TRUST_PROXY="TRUE" is not valid: expected true or false$/],
    [{ TRUST_PROXY: '2' }, 'TRUST_PROXY', /^TRUST_PROXY="2" is not valid/],
  ];
  for (const [env, setting, message] of wrong) {
    test(`refuses ${JSON.stringify(env).slice(0, 60)} with one line naming ${setting}`, () => {
      assertRefused(() => loadSiteOptions(env, false), setting, message);
    });
  }

  test('the options object is checked by the same rules, naming the option', () => {
    assertRefused(() => resolveServerSettings({ port: 70000 }), 'PORT', /^PORT \(option port\)=70000 is not valid: expected a whole number from 0 to 65535$/);
    assertRefused(() => resolveServerSettings({ port: 80.5 }), 'PORT', /^PORT \(option port\)=80.5 is not valid/);
    assertRefused(() => resolveServerSettings({ host: 'my host' }), 'HOST', /^HOST \(option host\)="my host" is not valid/);
    assertRefused(() => resolveServerSettings({ uploadMaxBytes: 0 }), 'UPLOAD_MAX_BYTES', /^UPLOAD_MAX_BYTES \(option uploadMaxBytes\)=0 is not valid/);
    assertRefused(() => resolveServerSettings({ trustProxy: 'yes' as never }), 'TRUST_PROXY', /^TRUST_PROXY \(option trustProxy\)="yes" is not valid: expected true or false$/);
    assert.deepEqual(resolveServerSettings({ port: 0, trustProxy: false }), { port: 0, host: '127.0.0.1', uploadMaxBytes: 1_048_576, trustProxy: false }, '0 and false survive defaults');
  });
});

describe('loadSiteOptions reads the other parts with their own rules', () => {
  test('a wrong dashboard or library setting stops it as well, naming its variable', () => {
    assertRefused(() => loadSiteOptions({ ADMIN_PATH: 'admin' }, false), 'ADMIN_PATH', /^ADMIN_PATH="admin" is not valid: expected a path prefix/);
    assertRefused(() => loadSiteOptions({ ADMIN_PASSWORD: 'short' }, false), 'ADMIN_PASSWORD', /^ADMIN_PASSWORD=\(hidden\) is not valid/);
    assertRefused(() => loadSiteOptions({ SESSION_REDIS_PREFIX: 'a b' }, false), 'SESSION_REDIS_PREFIX', /^SESSION_REDIS_PREFIX="a b" is not valid/);
    assertRefused(() => loadSiteOptions({ SESSION_STORE: 'mongodb' }, false), 'SESSION_STORE', /^SESSION_STORE="mongodb" is not valid: expected file, redis, postgres$/);
  });
});
