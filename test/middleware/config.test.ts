import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, previousConnectionOf, resolveConfig } from '../../middleware/config.ts';

describe('configuration', () => {
  test('every setting has its documented default', () => {
    const config = loadConfig({}, false);
    const { keys, ...rest } = config;
    assert.deepEqual(rest, {
      store: 'file',
      fileDir: './var/sessions',
      pgTable: 'sessionkeeper_sessions',
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'sessionkeeper:',
      idleTtlMs: 30 * 60_000,
      absoluteTtlMs: 24 * 3_600_000,
      touchAfterMs: 18_000,
      cookieType: 'persistent',
      cookieName: 'sid',
      sweepIntervalMs: 60_000,
      maxCount: 0,
      maxPerOwner: 0,
      trackDevice: false,
      maxSessionBytes: 2_097_152,
      eventsRetentionMs: 86_400_000,
      logLevel: 'info',
      logFormat: 'json',
      production: false,
      keysGenerated: true,
    });
    assert.equal(keys.length, 1, 'a random signing key outside production');
    assert.ok(keys[0]!.length >= 32);
    assert.equal(config.databaseUrl, undefined);
  });

  test('log format defaults to pretty on a terminal', () => {
    assert.equal(loadConfig({}, true).logFormat, 'pretty');
  });

  test('reads every variable', () => {
    const config = loadConfig({
      SESSION_STORE: 'postgres',
      SESSION_FILE_DIR: '/tmp/s',
      SESSION_PG_TABLE: 'app.sessions',
      REDIS_URL: 'redis://cache:6380',
      SESSION_REDIS_PREFIX: 'shop:sessions:',
      DATABASE_URL: 'postgres://u:p@db/x',
      SESSION_TTL: '90s',
      SESSION_ABSOLUTE_TTL: '7d',
      SESSION_TOUCH_AFTER: '20s',
      SESSION_COOKIE: 'browser',
      SESSION_COOKIE_NAME: 'app.sid',
      SESSION_KEYS: 'newest-signing-key-0123456789abcdef,older-signing-key-0123456789abcdef',
      SESSION_SWEEP_INTERVAL: '5m',
      SESSION_MAX_COUNT: '1000',
      SESSION_MAX_PER_OWNER: '3',
      SESSION_TRACK_DEVICE: 'true',
      SESSION_MAX_BYTES: '65536',
      SESSION_EVENTS_RETENTION: '90m',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'pretty',
      NODE_ENV: 'production',
    });
    assert.deepEqual(config, {
      store: 'postgres',
      fileDir: '/tmp/s',
      pgTable: 'app.sessions',
      redisUrl: 'redis://cache:6380',
      redisPrefix: 'shop:sessions:',
      databaseUrl: 'postgres://u:p@db/x',
      idleTtlMs: 90_000,
      absoluteTtlMs: 7 * 86_400_000,
      touchAfterMs: 20_000,
      cookieType: 'browser',
      cookieName: 'app.sid',
      keys: ['newest-signing-key-0123456789abcdef', 'older-signing-key-0123456789abcdef'],
      keysGenerated: false,
      sweepIntervalMs: 300_000,
      maxCount: 1000,
      maxPerOwner: 3,
      trackDevice: true,
      maxSessionBytes: 65_536,
      eventsRetentionMs: 5_400_000,
      logLevel: 'debug',
      logFormat: 'pretty',
      production: true,
    });
  });

  test('durations accept s, m, h, d and bare seconds; 0 disables the absolute limit', () => {
    assert.equal(loadConfig({ SESSION_TTL: '45' }).idleTtlMs, 45_000);
    assert.equal(loadConfig({ SESSION_TTL: '12h' }).idleTtlMs, 12 * 3_600_000);
    assert.equal(loadConfig({ SESSION_ABSOLUTE_TTL: '0' }).absoluteTtlMs, 0);
  });

  test('the rolling granularity defaults to 1 % of SESSION_TTL, at most a minute; 0 rolls on every request', () => {
    assert.equal(loadConfig({ SESSION_TTL: '30m' }).touchAfterMs, 18_000);
    assert.equal(loadConfig({ SESSION_TTL: '10s' }).touchAfterMs, 100);
    assert.equal(loadConfig({ SESSION_TTL: '12h' }).touchAfterMs, 60_000, 'capped at 60 s');
    assert.equal(loadConfig({ SESSION_TTL: '7d', SESSION_ABSOLUTE_TTL: '0' }).touchAfterMs, 60_000);
    assert.throws(() => resolveConfig({ touchAfterMs: 1.5 }), { message: /^SESSION_TOUCH_AFTER \(option touchAfterMs\)=1.5 is not valid/ });
    assert.equal(loadConfig({ SESSION_MAX_PER_OWNER: '1' }).maxPerOwner, 1, 'one session per owner');
    assert.equal(loadConfig({ SESSION_TRACK_DEVICE: 'true' }).trackDevice, true);
    assert.equal(loadConfig({ SESSION_TRACK_DEVICE: '0' }).trackDevice, false);
    assert.throws(() => resolveConfig({ maxPerOwner: -1 }), { message: /^SESSION_MAX_PER_OWNER \(option maxPerOwner\)=-1 is not valid/ });
    assert.throws(() => resolveConfig({ trackDevice: 'yes' as unknown as boolean }), { message: /^SESSION_TRACK_DEVICE \(option trackDevice\)="yes" is not valid/ });
    assert.equal(loadConfig({ SESSION_TOUCH_AFTER: '0' }).touchAfterMs, 0);
    assert.equal(loadConfig({ SESSION_TOUCH_AFTER: '5m' }).touchAfterMs, 300_000);
    assert.equal(loadConfig({ SESSION_TTL: '60s', SESSION_TOUCH_AFTER: '30' }).touchAfterMs, 30_000, 'half of SESSION_TTL is the most');
    assert.equal(resolveConfig({ touchAfterMs: 0 }).touchAfterMs, 0);
    assert.equal(resolveConfig({ idleTtlMs: 3_600_000 }).touchAfterMs, 36_000, 'the default follows the TTL given as an option');
  });

  test('an empty variable counts as unset', () => {
    assert.equal(loadConfig({ SESSION_STORE: '' }).store, 'file');
    assert.equal(loadConfig({ SESSION_REDIS_PREFIX: '' }).redisPrefix, 'sessionkeeper:');
  });

  test('a Redis key prefix may be any printable text up to 100 characters', () => {
    for (const prefix of ['shop:', 'a', 'tenant-7/sessions:', 'p'.repeat(100)]) {
      assert.equal(loadConfig({ SESSION_REDIS_PREFIX: prefix }).redisPrefix, prefix);
    }
    assert.equal(resolveConfig({ redisPrefix: 'p'.repeat(100) }).redisPrefix, 'p'.repeat(100));
  });

  test('the server\'s and the dashboard\'s options are not the library\'s: TypeScript refuses them, and so does resolveConfig at run time', () => {
    const misplaced = [
      // @ts-expect-error port belongs to the reference server (server/settings.ts)
      () => resolveConfig({ port: 3000 }),
      // @ts-expect-error host belongs to the reference server
      () => resolveConfig({ host: '0.0.0.0' }),
      // @ts-expect-error uploadMaxBytes belongs to the reference server
      () => resolveConfig({ uploadMaxBytes: 1024 }),
      // @ts-expect-error trustProxy is the app's own app.proxy
      () => resolveConfig({ trustProxy: true }),
      // @ts-expect-error adminUser belongs to the dashboard (createAdmin's user)
      () => resolveConfig({ adminUser: 'ops' }),
      // @ts-expect-error adminPassword belongs to the dashboard (createAdmin's password)
      () => resolveConfig({ adminPassword: 'a long secret' }),
      // @ts-expect-error a typo of a plain-JavaScript caller
      () => resolveConfig({ stor: 'redis' }),
    ];
    for (const resolve of misplaced) {
      assert.throws(resolve, (err: unknown) => err instanceof ConfigError && /^"[A-Za-z]+" is not an option here: expected one of store, fileDir, /.test(err.message) && !err.message.includes('\n') && !err.message.includes('a long secret'));
    }
  });

  test('the settings of the server and the dashboard are not the library\'s: their variables are left to those parts', () => {
    const config = loadConfig({ PORT: 'not a port', UPLOAD_MAX_BYTES: '0', TRUST_PROXY: 'yes', ADMIN_PASSWORD: 'short', ADMIN_PATH: 'admin' });
    for (const key of ['port', 'host', 'uploadMaxBytes', 'trustProxy', 'adminUser', 'adminPassword']) assert.ok(!(key in config), key);
  });

  const invalid: [Record<string, string>, RegExp][] = [
    [{ SESSION_TTL: 'abc' }, /^SESSION_TTL="abc" is not valid: expected a duration like 90s, 30m, 12h, 7d/],
    [{ SESSION_TTL: '0' }, /^SESSION_TTL="0" is not valid/],
    [{ SESSION_TTL: '-5m' }, /^SESSION_TTL="-5m" is not valid/],
    [{ SESSION_TTL: '1.5h' }, /^SESSION_TTL="1.5h" is not valid/],
    [{ SESSION_STORE: 'mongo' }, /^SESSION_STORE="mongo" is not valid: expected file, redis, postgres$/],
    [{ SESSION_PG_TABLE: 'sessions"; drop table users; --' }, /^SESSION_PG_TABLE=.* is not valid: expected a lower-case identifier/],
    [{ SESSION_PG_TABLE: "o'brien" }, /^SESSION_PG_TABLE="o'brien" is not valid/],
    [{ SESSION_PG_TABLE: 'a.b.c' }, /^SESSION_PG_TABLE="a.b.c" is not valid/],
    [{ SESSION_STORE: 'postgres' }, /^DATABASE_URL is required when SESSION_STORE=postgres/],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL=\(hidden\) is not valid: expected a URL starting with postgres:\/\/ or postgresql:\/\//],
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL=\(hidden\) is not valid/],
    [{ SESSION_COOKIE: 'forever' }, /^SESSION_COOKIE="forever" is not valid: expected persistent, browser$/],
    [{ SESSION_COOKIE_NAME: 'a b' }, /^SESSION_COOKIE_NAME="a b" is not valid/],
    [{ SESSION_KEYS: 'short' }, /^SESSION_KEYS=\(hidden\) is not valid: expected comma-separated keys of at least 16 characters/],
    [{ SESSION_KEYS: 'a-long-enough-key-1,,b-long-enough-key-2' }, /^SESSION_KEYS=\(hidden\) is not valid/],
    [{ NODE_ENV: 'production' }, /^SESSION_KEYS is required when NODE_ENV=production: .*at least 32 characters.*openssl rand -base64 32/],
    [{ SESSION_MAX_COUNT: '-1' }, /^SESSION_MAX_COUNT="-1" is not valid: expected a whole number from 0/],
    [{ SESSION_MAX_COUNT: 'lots' }, /^SESSION_MAX_COUNT="lots" is not valid/],
    [{ SESSION_MAX_PER_OWNER: '-1' }, /^SESSION_MAX_PER_OWNER="-1" is not valid: expected a whole number from 0/],
    [{ SESSION_MAX_PER_OWNER: '2.5' }, /^SESSION_MAX_PER_OWNER="2.5" is not valid/],
    [{ SESSION_MAX_PER_OWNER: 'one' }, /^SESSION_MAX_PER_OWNER="one" is not valid/],
    [{ SESSION_MAX_PER_OWNER: '1000001' }, /^SESSION_MAX_PER_OWNER="1000001" is not valid/],
    [{ SESSION_TRACK_DEVICE: 'yes' }, /^SESSION_TRACK_DEVICE="yes" is not valid: expected true or false$/],
    [{ SESSION_TRACK_DEVICE: 'TRUE ' }, /^SESSION_TRACK_DEVICE="TRUE " is not valid/],
    [{ SESSION_MAX_BYTES: 'big' }, /^SESSION_MAX_BYTES="big" is not valid: expected a whole number from 1024 to 134217728$/],
    [{ SESSION_MAX_BYTES: '-1' }, /^SESSION_MAX_BYTES="-1" is not valid: expected a whole number from 1024/],
    [{ SESSION_MAX_BYTES: '0' }, /^SESSION_MAX_BYTES="0" is not valid: expected a whole number from 1024/],
    [{ SESSION_MAX_BYTES: '1023' }, /^SESSION_MAX_BYTES="1023" is not valid/],
    [{ SESSION_MAX_BYTES: '2MiB' }, /^SESSION_MAX_BYTES="2MiB" is not valid/],
    [{ SESSION_MAX_BYTES: '134217729' }, /^SESSION_MAX_BYTES="134217729" is not valid: expected a whole number from 1024 to 134217728$/],
    [{ SESSION_COOKIE_NAME: '__Host-sid' }, /^SESSION_COOKIE_NAME="__Host-sid" needs NODE_ENV=production: browsers refuse __Host- and __Secure- cookies without Secure/],
    [{ SESSION_COOKIE_NAME: '__Secure-sid' }, /^SESSION_COOKIE_NAME="__Secure-sid" needs NODE_ENV=production/],
    [{ SESSION_COOKIE_NAME: '__host-sid' }, /^SESSION_COOKIE_NAME="__host-sid" needs NODE_ENV=production/],
    [{ SESSION_COOKIE_NAME: '__Host-sid', NODE_ENV: 'development', SESSION_KEYS: 'a-key-of-32-characters-012345678' }, /^SESSION_COOKIE_NAME="__Host-sid" needs NODE_ENV=production/],
    [{ NODE_ENV: 'production', SESSION_KEYS: 'a-key-of-31-characters-01234567' }, /^SESSION_KEYS=\(hidden\) is not valid with NODE_ENV=production: every key needs at least 32 characters; make each with openssl rand -base64 32$/],
    [
      { NODE_ENV: 'production', SESSION_KEYS: 'a-key-of-32-characters-012345678,an-old-key-of-only-28-chars-' },
      /^SESSION_KEYS=\(hidden\) is not valid with NODE_ENV=production: every key needs at least 32 characters/,
    ],
    [{ LOG_LEVEL: 'verbose' }, /^LOG_LEVEL="verbose" is not valid/],
    [{ LOG_FORMAT: 'xml' }, /^LOG_FORMAT="xml" is not valid: expected json, pretty$/],
    [{ SESSION_REDIS_PREFIX: 'my app:' }, /^SESSION_REDIS_PREFIX="my app:" is not valid: expected a key prefix of 1 to 100 printable characters without spaces, \{ or \}$/],
    [{ SESSION_REDIS_PREFIX: 'p'.repeat(101) }, /^SESSION_REDIS_PREFIX="p{101}" is not valid: expected a key prefix of 1 to 100/],
    [{ SESSION_REDIS_PREFIX: 'tab\there:' }, /^SESSION_REDIS_PREFIX="tab\\there:" is not valid/],
    [{ SESSION_TTL: '2h', SESSION_ABSOLUTE_TTL: '1h' }, /^SESSION_ABSOLUTE_TTL=3600s is shorter than SESSION_TTL=7200s/],
    [{ SESSION_SWEEP_INTERVAL: '500ms' }, /^SESSION_SWEEP_INTERVAL="500ms" is not valid/],
    [{ SESSION_SWEEP_INTERVAL: '30d' }, /^SESSION_SWEEP_INTERVAL="30d" is not valid: .*at most 24d$/],
    [{ SESSION_TTL: '366d' }, /^SESSION_TTL="366d" is not valid: .*at most 365d$/],
    [{ SESSION_TOUCH_AFTER: '500ms' }, /^SESSION_TOUCH_AFTER="500ms" is not valid: expected a duration like 90s, 30m, 12h, 7d or a number of seconds \(0 = none\), at least 1s and at most 365d$/],
    [{ SESSION_TOUCH_AFTER: '-1' }, /^SESSION_TOUCH_AFTER="-1" is not valid/],
    [{ SESSION_TOUCH_AFTER: 'often' }, /^SESSION_TOUCH_AFTER="often" is not valid/],
    [{ SESSION_TOUCH_AFTER: '1.5s' }, /^SESSION_TOUCH_AFTER="1.5s" is not valid/],
    [{ SESSION_TOUCH_AFTER: '16m' }, /^SESSION_TOUCH_AFTER=960s is more than half of SESSION_TTL=1800s: sessions in use would expire between two refreshes; use 0 \(every request\) or at most 900s$/],
    [{ SESSION_TTL: '60s', SESSION_TOUCH_AFTER: '31' }, /^SESSION_TOUCH_AFTER=31s is more than half of SESSION_TTL=60s/],
    [{ SESSION_EVENTS_RETENTION: '30s' }, /^SESSION_EVENTS_RETENTION="30s" is not valid: expected a duration like 90s, 30m, 12h, 7d or a number of seconds, at least 60s and at most 365d$/],
    [{ SESSION_EVENTS_RETENTION: '0' }, /^SESSION_EVENTS_RETENTION="0" is not valid: .*at least 60s/],
    [{ SESSION_EVENTS_RETENTION: 'forever' }, /^SESSION_EVENTS_RETENTION="forever" is not valid/],
    [{ SESSION_EVENTS_RETENTION: '-1h' }, /^SESSION_EVENTS_RETENTION="-1h" is not valid/],
    [{ SESSION_EVENTS_RETENTION: '400d' }, /^SESSION_EVENTS_RETENTION="400d" is not valid: .*at most 365d$/],
    [{ SESSION_STORE_PREVIOUS: 'mongo' }, /^SESSION_STORE_PREVIOUS="mongo" is not valid: expected file, redis, postgres$/],
    [{ SESSION_STORE_PREVIOUS: 'File' }, /^SESSION_STORE_PREVIOUS="File" is not valid/],
    [{ SESSION_STORE_PREVIOUS: 'file' }, /^SESSION_STORE_PREVIOUS=file names the same sessions as SESSION_STORE: to move between two file stores, set PREVIOUS_SESSION_FILE_DIR to where the sessions are now$/],
    [{ SESSION_FILE_DIR: './var/sessions/', SESSION_STORE_PREVIOUS: 'file', PREVIOUS_SESSION_FILE_DIR: 'var/sessions' }, /^SESSION_STORE_PREVIOUS=file names the same sessions/],
    [{ SESSION_STORE: 'redis', SESSION_STORE_PREVIOUS: 'redis' }, /^SESSION_STORE_PREVIOUS=redis names the same sessions as SESSION_STORE: .*set PREVIOUS_REDIS_URL or PREVIOUS_SESSION_REDIS_PREFIX/],
    [{ SESSION_STORE: 'redis', SESSION_STORE_PREVIOUS: 'redis', PREVIOUS_REDIS_URL: 'redis://user:secret@127.0.0.1:6379/0' }, /^SESSION_STORE_PREVIOUS=redis names the same sessions/],
    [
      { SESSION_STORE: 'postgres', DATABASE_URL: 'postgres://a@db/x', SESSION_STORE_PREVIOUS: 'postgres', PREVIOUS_SESSION_PG_TABLE: 'public.sessionkeeper_sessions' },
      /^SESSION_STORE_PREVIOUS=postgres names the same sessions as SESSION_STORE: .*PREVIOUS_DATABASE_URL or PREVIOUS_SESSION_PG_TABLE/,
    ],
    [{ SESSION_STORE_PREVIOUS: 'postgres' }, /^PREVIOUS_DATABASE_URL \(or DATABASE_URL\) is required when SESSION_STORE_PREVIOUS=postgres/],
    [{ PREVIOUS_REDIS_URL: 'redis://127.0.0.1:6380' }, /^PREVIOUS_REDIS_URL is set but SESSION_STORE_PREVIOUS is not: set SESSION_STORE_PREVIOUS to the store sessions are moving away from, or remove PREVIOUS_REDIS_URL$/],
    [{ PREVIOUS_SESSION_FILE_DIR: '/old' }, /^PREVIOUS_SESSION_FILE_DIR is set but SESSION_STORE_PREVIOUS is not/],
    [{ SESSION_STORE: 'redis', SESSION_STORE_PREVIOUS: 'file', PREVIOUS_REDIS_URL: 'redis://10.0.0.2' }, /^PREVIOUS_REDIS_URL is set but SESSION_STORE_PREVIOUS=file does not use it: it is for a previous redis store; remove it or correct SESSION_STORE_PREVIOUS$/],
    [{ SESSION_STORE_PREVIOUS: 'redis', PREVIOUS_SESSION_PG_TABLE: 'old' }, /^PREVIOUS_SESSION_PG_TABLE is set but SESSION_STORE_PREVIOUS=redis does not use it/],
    [{ SESSION_STORE_PREVIOUS: 'redis', PREVIOUS_REDIS_URL: 'http://127.0.0.1' }, /^PREVIOUS_REDIS_URL=\(hidden\) is not valid: expected a URL starting with redis:\/\/ or rediss:\/\/$/],
    [{ SESSION_STORE_PREVIOUS: 'postgres', PREVIOUS_DATABASE_URL: 'mysql://u:hunter2@db/x' }, /^PREVIOUS_DATABASE_URL=\(hidden\) is not valid/],
    [{ SESSION_STORE_PREVIOUS: 'redis', PREVIOUS_SESSION_REDIS_PREFIX: 'old app:' }, /^PREVIOUS_SESSION_REDIS_PREFIX="old app:" is not valid/],
    [{ SESSION_STORE_PREVIOUS: 'postgres', DATABASE_URL: 'postgres://a@db/x', PREVIOUS_SESSION_PG_TABLE: 'Old-Table' }, /^PREVIOUS_SESSION_PG_TABLE="Old-Table" is not valid/],
    [{ SESSION_STORE_PREVIOUS: 'file', PREVIOUS_SESSION_FILE_DIR: 'a\0b' }, /^PREVIOUS_SESSION_FILE_DIR=.* is not valid: expected a directory path$/],
  ];
  for (const [env, message] of invalid) {
    test(`refuses ${JSON.stringify(env)} with one clear line`, () => {
      assert.throws(() => loadConfig(env), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, message);
        assert.ok(!err.message.includes('\n'), 'one line');
        return true;
      });
    });
  }

  test('a backend switch: the previous store takes the current store\'s connection settings but for its PREVIOUS_ ones', () => {
    const config = loadConfig({
      SESSION_STORE: 'redis', SESSION_STORE_PREVIOUS: 'postgres', DATABASE_URL: 'postgres://a@db/x', PREVIOUS_SESSION_PG_TABLE: 'old_sessions',
    });
    assert.deepEqual(previousConnectionOf(config), {
      store: 'postgres', fileDir: './var/sessions', pgTable: 'old_sessions', redisUrl: 'redis://127.0.0.1:6379', redisPrefix: 'sessionkeeper:', databaseUrl: 'postgres://a@db/x',
    });
    const sameKind = loadConfig({ SESSION_STORE: 'redis', SESSION_STORE_PREVIOUS: 'redis', PREVIOUS_SESSION_REDIS_PREFIX: 'old:', PREVIOUS_REDIS_URL: 'redis://10.0.0.2:6379' });
    assert.equal(previousConnectionOf(sameKind)?.redisPrefix, 'old:');
    assert.equal(previousConnectionOf(sameKind)?.redisUrl, 'redis://10.0.0.2:6379');
    assert.equal(previousConnectionOf(loadConfig({})), undefined, 'no switch unless SESSION_STORE_PREVIOUS is set');
    assert.equal(previousConnectionOf(resolveConfig({ previousStore: 'file', previousFileDir: '/srv/old', store: 'redis' }))?.fileDir, '/srv/old');
  });

  test('__Host- and __Secure- cookie names are accepted in production, where cookies are Secure', () => {
    const keys = 'a-key-of-32-characters-012345678';
    assert.equal(loadConfig({ NODE_ENV: 'production', SESSION_KEYS: keys, SESSION_COOKIE_NAME: '__Host-sid' }).cookieName, '__Host-sid');
    assert.equal(loadConfig({ NODE_ENV: 'production', SESSION_KEYS: keys, SESSION_COOKIE_NAME: '__Secure-sid' }).cookieName, '__Secure-sid');
    assert.throws(() => resolveConfig({ cookieName: '__Host-sid' }), { message: /^SESSION_COOKIE_NAME="__Host-sid" needs NODE_ENV=production/ });
  });

  test('keys of 16 to 31 characters are enough outside production only', () => {
    const key = 'a-key-of-31-characters-01234567';
    assert.deepEqual(loadConfig({ SESSION_KEYS: key }).keys, [key]);
    assert.deepEqual(loadConfig({ SESSION_KEYS: 'sixteen-chars-ok' }).keys, ['sixteen-chars-ok']);
    assert.throws(() => resolveConfig({ production: true, keys: [key] }), { message: /^SESSION_KEYS=\(hidden\) is not valid with NODE_ENV=production/ });
    assert.deepEqual(resolveConfig({ production: true, keys: [`${key}8`] }).keys, [`${key}8`]);
  });

  test('a session may be as large as SESSION_MAX_BYTES allows, from 1 KiB to 128 MiB', () => {
    assert.equal(loadConfig({ SESSION_MAX_BYTES: '1024' }).maxSessionBytes, 1024);
    assert.equal(loadConfig({ SESSION_MAX_BYTES: '134217728' }).maxSessionBytes, 134_217_728);
    assert.throws(() => resolveConfig({ maxSessionBytes: 0 }), { message: /^SESSION_MAX_BYTES \(option maxSessionBytes\)=0 is not valid: expected a whole number from 1024 to 134217728$/ });
    assert.throws(() => resolveConfig({ maxSessionBytes: 2048.5 }), { message: /^SESSION_MAX_BYTES \(option maxSessionBytes\)=2048.5 is not valid/ });
  });

  test('never shows a secret value in an error', () => {
    for (const env of [{ DATABASE_URL: 'mysql://user:hunter2@db/x' }, { SESSION_KEYS: 'hunter2' }, { NODE_ENV: 'production', SESSION_KEYS: 'hunter2-hunter2-hunter2' }]) {
      assert.throws(() => loadConfig(env), (err: Error) => !/hunter2|abc/.test(err.message));
    }
  });

  test('the options object is checked by the same rules, naming the option', () => {
    assert.throws(() => resolveConfig({ idleTtlMs: -1 }), { message: /^SESSION_TTL \(option idleTtlMs\)=-1 is not valid/ });
    assert.throws(() => resolveConfig({ store: 'mongo' as never }), { message: /^SESSION_STORE \(option store\)="mongo" is not valid/ });
    assert.throws(() => resolveConfig({ keys: [] }), { message: /^SESSION_KEYS \(option keys\)=\(hidden\) is not valid/ });
    assert.throws(() => resolveConfig({ redisPrefix: 'a b' }), { message: /^SESSION_REDIS_PREFIX \(option redisPrefix\)="a b" is not valid/ });
    const kept = resolveConfig({ maxCount: 0, production: false });
    assert.equal(kept.maxCount, 0, '0 survives defaults');
    assert.equal(kept.production, false, 'false survives defaults');
  });
});
