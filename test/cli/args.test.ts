/**
 * The command line and the terminal output, in-process: every option's
 * default and bounds, the mistakes parseArgs reports, ids that start with
 * `-`, and text from the store that must not drive the terminal.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { parseCommand } from '../../cli/args.ts';
import { UsageError } from '../../cli/errors.ts';
import { formatEventLine, formatSessionDetails, formatTable, printable, sessionRow } from '../../cli/output.ts';
import { usage } from '../../cli/usage.ts';

function assertUsageError(argv: string[], message: RegExp, helpCommand = 'sessionkeeper'): void {
  assert.throws(() => parseCommand(argv), (err: unknown) => {
    assert.ok(err instanceof UsageError, `sessionkeeper ${argv.join(' ')} throws a UsageError`);
    assert.match(err.message, message);
    assert.equal(err.helpCommand, helpCommand);
    return true;
  });
}

/** A public id that starts with `-`, as one in 64 do. */
function dashedPublicId(): string {
  for (;;) {
    const id = publicIdOf(newSessionId());
    if (id.startsWith('-')) return id;
  }
}

describe('parseCommand', () => {
  test('defaults: list by activity, 50 sessions; events: 50, no follow; output for people', () => {
    assert.deepEqual(parseCommand(['sessions', 'list']), { name: 'sessions list', sort: 'activity', limit: 50, json: false });
    assert.deepEqual(parseCommand(['events']), { name: 'events', follow: false, limit: 50, json: false });
    assert.deepEqual(parseCommand(['sessions', 'count']), { name: 'sessions count', json: false });
    assert.deepEqual(parseCommand(['dashboard']), { name: 'dashboard' });
    assert.deepEqual(parseCommand(['migrate']), { name: 'migrate', dryRun: false, json: false });
  });

  test('every option, in any order; the bounds of --limit', () => {
    assert.deepEqual(parseCommand(['sessions', 'list', '--json', '--limit', '100000', '--sort', 'expiry']), { name: 'sessions list', sort: 'expiry', limit: 100_000, json: true });
    assert.deepEqual(parseCommand(['sessions', 'list', '--limit=1']), { name: 'sessions list', sort: 'activity', limit: 1, json: false });
    assert.deepEqual(parseCommand(['events', '--follow', '--limit', '0', '--json']), { name: 'events', follow: true, limit: 0, json: true });
    assert.deepEqual(parseCommand(['events', '--limit', '1000']).name, 'events');
    assert.deepEqual(parseCommand(['sessions', 'end-all', '--yes', '--json']), { name: 'sessions end-all', json: true });
    assert.deepEqual(parseCommand(['sessions', 'purge-expired', '--json']), { name: 'sessions purge-expired', json: true });
    assert.deepEqual(parseCommand(['migrate', '--json', '--dry-run']), { name: 'migrate', dryRun: true, json: true });
  });

  test('help: --help, -h and help, for everything or one group', () => {
    for (const argv of [['--help'], ['-h'], ['help']]) assert.deepEqual(parseCommand(argv), { name: 'help', topic: 'all' });
    for (const argv of [['sessions', '--help'], ['sessions', 'show', '--help'], ['sessions', 'end-all', '-h'], ['help', 'sessions']]) {
      assert.deepEqual(parseCommand(argv), { name: 'help', topic: 'sessions' }, argv.join(' '));
    }
    assert.deepEqual(parseCommand(['events', '--follow', '--help']), { name: 'help', topic: 'events' });
    assert.deepEqual(parseCommand(['dashboard', '-h']), { name: 'help', topic: 'dashboard' });
    assert.deepEqual(parseCommand(['migrate', '--dry-run', '--help']), { name: 'help', topic: 'migrate' });
    assert.deepEqual(parseCommand(['help', 'migrate']), { name: 'help', topic: 'migrate' });
  });

  test('an id, also one that starts with -, which parseArgs would take for an option', () => {
    const id = dashedPublicId();
    assert.deepEqual(parseCommand(['sessions', 'show', id]), { name: 'sessions show', id, json: false });
    assert.deepEqual(parseCommand(['sessions', 'end', '--json', id]), { name: 'sessions end', id, json: true });
    assert.deepEqual(parseCommand(['sessions', 'end', id, '--json']), { name: 'sessions end', id, json: true });
    assert.deepEqual(parseCommand(['sessions', 'show', '--', id]), { name: 'sessions show', id, json: false });
  });

  test('mistakes: unknown words and options, missing and extra values, values out of range', () => {
    assertUsageError([], /^no command given$/);
    assertUsageError(['--verbose'], /^unknown option --verbose$/);
    assertUsageError(['session', 'list'], /^unknown command "session"$/);
    assertUsageError(['help', 'migrations'], /^no help on "migrations": try sessions, events, migrate or dashboard$/);
    assertUsageError(['migrate', '--dryrun'], /^migrate: unknown option --dryrun$/, 'sessionkeeper migrate');
    assertUsageError(['migrate', '--dry-run=yes'], /^migrate: --dry-run takes no value$/, 'sessionkeeper migrate');
    assertUsageError(['migrate', 'now'], /^migrate: unexpected argument "now"$/, 'sessionkeeper migrate');
    assertUsageError(['sessions', 'remove'], /^unknown sessions subcommand "remove": expected one of list, count, show, end, purge-expired, end-all$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'list', '-x'], /^sessions list: unknown option -x$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'list', '--limit'], /^sessions list: --limit needs a value$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'list', '--limit', '0'], /--limit must be a whole number from 1 to 100000, not "0"$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'list', '--limit', '100001'], /not "100001"$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'list', '--limit', '-5'], /^sessions list: --limit needs a value$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'list', '--limit', '1e3'], /not "1e3"$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'list', 'extra'], /^sessions list: unexpected argument "extra"$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'count', '--json=yes'], /^sessions count: --json takes no value$/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'end'], /^sessions end needs a session id/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'show', `${'a'.repeat(42)}!`], /^sessions show: "a{42}!" is not a session id/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'show', publicIdOf('x'), publicIdOf('y')], /^sessions show: unexpected argument/, 'sessionkeeper sessions');
    assertUsageError(['sessions', 'end-all', '--yes=no'], /^sessions end-all: --yes takes no value$/, 'sessionkeeper sessions');
    assertUsageError(['events', '--tail'], /^events: unknown option --tail$/, 'sessionkeeper events');
    assertUsageError(['events', '--limit', '-1'], /^events: --limit needs a value$/, 'sessionkeeper events');
    assertUsageError(['dashboard', '--port', '80'], /^dashboard: unknown option --port$/, 'sessionkeeper dashboard');
  });
});

describe('output', () => {
  const nowMs = Date.parse('2025-01-31T14:00:00Z');
  const session = {
    id: publicIdOf('raw'),
    createdAt: nowMs - 2 * 3_600_000,
    lastSeenAt: nowMs - 3 * 60_000,
    expiresAt: nowMs + 29 * 60_000,
    sizeBytes: 1536,
    keys: ['cart', 'theme'],
  };

  test('a session row: the full id, times relative to now, the size, the key names', () => {
    assert.deepEqual(sessionRow(session, nowMs), [session.id, '2h ago', '3m ago', 'in 29m', '1.5 KiB', 'cart, theme']);
    assert.equal(sessionRow({ ...session, keys: [] }, nowMs)[5], '-');
  });

  test('columns line up under their headings, whatever the width of each cell', () => {
    const table = formatTable(['ID', 'SIZE', 'KEYS'], [['a', '12 bytes', 'x'], ['bbbb', '1 KiB', 'y, z']]);
    assert.equal(table, 'ID    SIZE      KEYS\na     12 bytes  x\nbbbb  1 KiB     y, z\n');
  });

  test('show: absolute times beside relative ones, sizes, key names', () => {
    assert.equal(
      formatSessionDetails(session, nowMs),
      [
        `id         ${session.id}`,
        'created    2025-01-31 12:00:00 UTC (2h ago)',
        'last seen  2025-01-31 13:57:00 UTC (3m ago)',
        'expires    2025-01-31 14:29:00 UTC (in 29m)',
        'size       1.5 KiB of JSON',
        'keys       cart, theme',
        '',
      ].join('\n'),
    );
  });

  test('an event line: time, event, short id, details, in fixed columns', () => {
    const at = '2025-01-31T14:00:00.000Z';
    assert.equal(
      formatEventLine({ event: 'session.destroyed', sid: session.id, by: 'admin', store: 'redis', at }),
      `2025-01-31 14:00:00 UTC  session.destroyed    ${session.id.slice(0, 12)}…  by admin\n`,
    );
    assert.equal(
      formatEventLine({ event: 'sessions.purged', count: 3, scope: 'all', by: 'admin', store: 'redis', at }),
      '2025-01-31 14:00:00 UTC  sessions.purged      -              every session: 3 removed by admin\n',
    );
  });

  test('text from the store cannot move the cursor, clear the screen or start a new line', () => {
    assert.equal(printable('a\u001b[2Jb\r\nc\u009bd'), 'a\\u001b[2Jb\\u000d\\u000ac\\u009bd');
    assert.equal(sessionRow({ ...session, keys: ['\u001b]0;owned\u0007title'] }, nowMs)[5], '\\u001b]0;owned\\u0007title');
  });

  test('each group\'s help holds only that group, with the common notes', () => {
    assert.ok(usage('all').includes('sessions end-all --yes') && usage('all').includes('sessionkeeper dashboard'));
    assert.ok(!usage('events').includes('sessions end-all') && usage('events').includes('--follow'));
    assert.ok(usage('dashboard').includes('ADMIN_PASSWORD (required)') && !usage('dashboard').includes('sessions list'));
    assert.ok(usage('migrate').includes('sessionkeeper migrate [--dry-run] [--json]') && !usage('migrate').includes('sessions list'));
    for (const topic of ['all', 'sessions', 'events', 'migrate', 'dashboard'] as const) assert.match(usage(topic), /Exit status: 0 done/);
  });
});
