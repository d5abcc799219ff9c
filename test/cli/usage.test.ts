/**
 * Wrong usage and bad settings: exit status 2 and one line on stderr saying
 * what is wrong and where help is, before any store is opened; help on
 * stdout with status 0. Each case is its own process, run side by side.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, runCli } from './cli-process.ts';

let fileDir = '';
before(async () => {
  fileDir = await mkdtemp(join(tmpdir(), 'sessionkeeper-cli-usage-'));
});
after(() => rm(fileDir, { recursive: true, force: true }));

/** A file store of its own, so that even a command that wrongly opened one would touch nothing shared. */
const fileStore = () => ({ SESSION_STORE: 'file', SESSION_FILE_DIR: fileDir });

function assertRefused(result: CliResult, pattern: RegExp, what: string): void {
  assert.equal(result.status, 2, `${what}: exit status (stderr: ${result.stderr})`);
  assert.equal(result.stdout, '', `${what}: nothing on stdout`);
  assert.match(result.stderr, /^sessionkeeper: [^\n]+\n$/, `${what}: one line on stderr`);
  assert.match(result.stderr, pattern, what);
}

test('wrong usage: exit status 2, one line naming the mistake and the help to read', async () => {
  // Each kind of mistake once (parsing in detail: args.test.ts, in-process).
  const cases: [string[], RegExp][] = [
    [[], /no command given; see sessionkeeper --help/],
    [['frobnicate'], /unknown command "frobnicate"; see sessionkeeper --help/],
    [['sessions', 'list', '--colour'], /sessions list: unknown option --colour; see sessionkeeper sessions --help/],
    [['sessions', 'list', '--limit', 'abc'], /--limit must be a whole number from 1 to 100000, not "abc"/],
    [['sessions', 'list', '--sort', 'size'], /--sort must be one of activity, expiry, not "size"/],
    [['sessions', 'show'], /sessions show needs a session id/],
    [['sessions', 'end', 'not-a-session-id'], /sessions end: "not-a-session-id" is not a session id/],
    [['sessions', 'end-all'], /sessions end-all ends every session, live or expired: add --yes to confirm/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args, fileStore())));
  for (const [index, [args, pattern]] of cases.entries()) assertRefused(results[index]!, pattern, `sessionkeeper ${args.join(' ')}`);
});

test('a setting that is not allowed: exit status 2 with its one-line message; the dashboard needs a password, and keys in production', async () => {
  const [badTtl, noPassword, productionDashboard] = await Promise.all([
    runCli(['sessions', 'count'], { ...fileStore(), SESSION_TTL: 'abc' }),
    runCli(['dashboard'], { ...fileStore(), PORT: '0' }),
    runCli(['dashboard'], { ...fileStore(), PORT: '0', NODE_ENV: 'production', TRUST_PROXY: 'true', ADMIN_PASSWORD: 'a-long-enough-password' }),
  ]);
  assertRefused(badTtl, /^sessionkeeper: SESSION_TTL="abc" is not valid: expected a duration/, 'SESSION_TTL=abc');
  assertRefused(noPassword, /the dashboard needs a password: set ADMIN_PASSWORD/, 'dashboard without ADMIN_PASSWORD');
  assertRefused(productionDashboard, /SESSION_KEYS is required when NODE_ENV=production/, 'production dashboard without SESSION_KEYS');
});

test('NODE_ENV=production without SESSION_KEYS does not stop a command that signs no cookie', async () => {
  const result = await runCli(['sessions', 'count', '--json'], { ...fileStore(), NODE_ENV: 'production' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, '{"live":0}\n');
  assert.equal(result.stderr, '');
});

test('help: the commands on stdout, exit status 0; a group\'s --help shows that group', async () => {
  const [all, sessionsHelp] = await Promise.all([runCli(['--help']), runCli(['sessions', 'list', '--help'])]);
  for (const result of [all, sessionsHelp]) {
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^Usage: sessionkeeper <command> \[options\]\n/);
    assert.match(result.stdout, /Exit status: 0 done, 1 failed .*, 2 wrong usage or setting\.\n$/);
  }
  for (const command of ['sessions list [--sort activity|expiry] [--limit N] [--owner O] [--json]', 'sessions count', 'sessions show <id>', 'sessions end <id>', 'sessions end --owner O', 'sessions purge-expired', 'sessions end-all --yes', 'events [--limit N] [--follow] [--json]', 'sessionkeeper migrate [--dry-run] [--json]', 'sessionkeeper dashboard']) {
    assert.ok(all.stdout.includes(command), `--help lists ${command}`);
  }
  assert.match(all.stdout, /LOG_LEVEL \(default warn for the CLI\)/);
  assert.ok(sessionsHelp.stdout.includes('sessions purge-expired') && !sessionsHelp.stdout.includes('sessionkeeper dashboard'));
});
