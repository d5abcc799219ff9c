/**
 * `sessionkeeper sessions list --owner O` and `sessions end --owner O` on every store, as child processes
 * on sessions stored with owners: exactly that owner's sessions are listed (for people and as the API's
 * JSON) and ended (reaching the shared event log by admin, with the owner); the wrong uses of --owner are
 * usage errors (exit status 2, one line) that end nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toApiSession } from '../../admin/api-routes.ts';
import { parseCommand } from '../../cli/args.ts';
import { UsageError } from '../../cli/errors.ts';
import { formatSessionDetails, formatSessionTable } from '../../cli/output.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { createNamespace, STORE_KINDS, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { testServerEnv } from '../helpers/test-settings.ts';
import { type CliResult, jsonLines, runCli } from './cli-process.ts';

/** An owner awkward for a shell, a terminal, a URL and a page at once. */
const AWKWARD = `O'Brien "<b>" /%{}:* 用户 🦀`;
/** An owner with an escape sequence, which must reach the terminal as text. */
const ESCAPING = 'evil\u001b[2Jowner';

/**
 * Stores one session per entry of `owners` (none for undefined) as the middleware would, each used a second
 * after the one before and expiring a second later; returns their public ids in that order.
 */
function createSessions(store: SessionStore, owners: (string | undefined)[], expiresInMs = 30 * 60_000): Promise<string[]> {
  return seedSessions(store, { count: owners.length, owners, expiresInMs, data: { cart: 'VALUE-4111', theme: 'dark' } });
}

function assertDone(result: CliResult, what: string): void {
  assert.equal(result.status, 0, `${what}: ${result.stderr}`);
  assert.equal(result.stderr, '', `${what}: nothing on stderr`);
  assert.ok(!result.stdout.includes('VALUE-'), `${what}: no value in the output`);
}

for (const kind of STORE_KINDS) {
  describe(`sessionkeeper sessions --owner on the ${kind} store`, () => {
    let namespace: StoreNamespace;
    let store: SessionStore;
    let env: Record<string, string>;
    let alice: string[];
    let awkward: string[];
    let others: string[];

    before(async () => {
      namespace = await createNamespace(kind);
      store = namespace.open();
      await store.init();
      alice = await createSessions(store, ['alice', 'alice', 'alice']);
      await createSessions(store, ['alice'], -60_000);
      awkward = await createSessions(store, [AWKWARD, AWKWARD]);
      others = await createSessions(store, ['bob', 'Alice', ESCAPING, undefined]);
      env = testServerEnv(namespace);
    });
    after(async () => {
      await store.close();
      await namespace.remove();
    });

    test('list --owner prints exactly that owner\'s live sessions, for people and as the API\'s JSON; every list shows owners', async () => {
      const [json, none, all, table] = await Promise.all([
        runCli(['sessions', 'list', '--owner', 'alice', '--sort', 'expiry', '--json'], env),
        runCli(['sessions', 'list', '--owner', 'nobody'], env),
        runCli(['sessions', 'list', '--json'], env),
        runCli(['sessions', 'list'], env),
      ]);
      for (const [what, result] of Object.entries({ json, none, all, table })) assertDone(result, what);

      const listed = (await store.list({ owner: 'alice', limit: 50, sort: 'expiry', now: Date.now() })).sessions.map(toApiSession);
      assert.deepEqual(jsonLines(json.stdout), listed);
      assert.deepEqual(listed.map((session) => [session.id, session.owner]), alice.map((id) => [id, 'alice']));
      assert.equal(none.stdout, 'no live sessions of owner "nobody"\n');

      const ownerOf = new Map(jsonLines<{ id: string; owner?: string }>(all.stdout).map((session) => [session.id, session.owner]));
      assert.deepEqual([...alice, ...awkward, ...others].map((id) => ownerOf.get(id)), [...alice.map(() => 'alice'), AWKWARD, AWKWARD, 'bob', 'Alice', ESCAPING, undefined]);

      // For people: an OWNER column last, `-` for a session without one, an escape sequence shown as text.
      const [header, ...rows] = table.stdout.trimEnd().split('\n');
      assert.match(header!, /^ID {43}CREATED +LAST SEEN +EXPIRES +SIZE +KEYS +OWNER$/);
      const ownerColumn = new Map(rows.map((row) => [row.slice(0, 43), row.slice(header!.indexOf('OWNER'))]));
      assert.deepEqual(
        [...alice, ...awkward, ...others].map((id) => ownerColumn.get(id)),
        [...alice.map(() => 'alice'), AWKWARD, AWKWARD, 'bob', 'Alice', 'evil\\u001b[2Jowner', '-'],
      );
      assert.ok(!table.stdout.includes('\u001b'), 'no escape sequence reaches the terminal');
    });

    test('end --owner ends exactly that owner\'s live sessions, says how many, and each reaches the shared event log by admin with the owner', async () => {
      const [ended, endedAwkward] = await Promise.all([
        runCli(['sessions', 'end', '--owner', 'alice'], env),
        runCli(['sessions', 'end', '--json', '--owner', AWKWARD], env),
      ]);
      for (const [what, result] of Object.entries({ ended, endedAwkward })) assertDone(result, what);
      assert.equal(ended.stdout, 'ended 3 sessions of owner "alice"\n');
      assert.equal(endedAwkward.stdout, '{"removed":2}\n');
      assert.deepEqual(await idsStillStored(store, [...alice, ...awkward, ...others]), others);

      const events = await runCli(['events', '--json', '--limit', '1000'], env);
      assert.equal(events.status, 0, events.stderr);
      const destroyed = jsonLines<LifecycleEvent>(events.stdout).filter((event) => event.event === 'session.destroyed');
      assert.deepEqual(
        new Set(destroyed.map(({ sid, by, owner }) => JSON.stringify({ sid, by, owner }))),
        new Set([...alice.map((sid) => ({ sid, by: 'admin', owner: 'alice' })), ...awkward.map((sid) => ({ sid, by: 'admin', owner: AWKWARD }))].map((e) => JSON.stringify(e))),
      );
      assert.equal(destroyed.length, 5);
    });
  });
}

describe('sessionkeeper sessions --owner: wrong usage', () => {
  let namespace: StoreNamespace;
  let store: SessionStore;
  let seeded: string[];

  before(async () => {
    namespace = await createNamespace('file');
    store = namespace.open();
    await store.init();
    seeded = await createSessions(store, ['alice', 'alice']);
  });
  after(async () => {
    await store.close();
    await namespace.remove();
  });

  test('an id and --owner together, an empty, too long or repeated owner: exit status 2, one line, nothing ended (each mistake in-process below)', async () => {
    const cases: [string[], RegExp][] = [
      [['sessions', 'end', seeded[0]!, '--owner', 'alice'], /^sessionkeeper: sessions end takes a session id or --owner, not both; see sessionkeeper sessions --help\n$/],
      [['sessions', 'end', '--owner', ''], /^sessionkeeper: sessions end: --owner is not an owner: an owner must not be empty; see sessionkeeper sessions --help\n$/],
      [['sessions', 'end', '--owner', 'x'.repeat(513)], /--owner is not an owner: an owner must be at most 512 characters, not 513/],
      [['sessions', 'end', '--owner', 'alice', '--owner', 'bob'], /sessions end: --owner was given more than once/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, testServerEnv(namespace))));
    for (const [index, [args, pattern]] of cases.entries()) {
      const result = results[index]!;
      const what = `sessionkeeper ${args.join(' ').slice(0, 80)}`;
      assert.equal(result.status, 2, `${what}: ${result.stderr}`);
      assert.equal(result.stdout, '', what);
      assert.match(result.stderr, /^sessionkeeper: [^\n]+\n$/, `${what}: one line`);
      assert.match(result.stderr, pattern, what);
    }
    assert.deepEqual(await idsStillStored(store, seeded), seeded);
  });

  test('parsing: --owner on list and end, in any order; an owner that starts with - is given with =', () => {
    assert.deepEqual(parseCommand(['sessions', 'list', '--owner', 'alice']), { name: 'sessions list', sort: 'activity', limit: 50, json: false, owner: 'alice' });
    assert.deepEqual(parseCommand(['sessions', 'list', '--json', '--owner=-x', '--sort', 'expiry']), { name: 'sessions list', sort: 'expiry', limit: 50, json: true, owner: '-x' });
    assert.deepEqual(parseCommand(['sessions', 'end', '--owner', AWKWARD, '--json']), { name: 'sessions end --owner', owner: AWKWARD, json: true });
    assert.deepEqual(parseCommand(['sessions', 'end', '--owner', 'é'.repeat(512)]), { name: 'sessions end --owner', owner: 'é'.repeat(512), json: false });
    const refused = (argv: string[], message: RegExp) =>
      assert.throws(() => parseCommand(argv), (err) => err instanceof UsageError && message.test(err.message) && err.helpCommand === 'sessionkeeper sessions', argv.join(' '));
    refused(['sessions', 'end'], /^sessions end needs a session id .* or --owner O$/);
    refused(['sessions', 'end', '--owner='], /^sessions end: --owner is not an owner: an owner must not be empty$/);
    refused(['sessions', 'end', '--owner'], /^sessions end: --owner needs a value$/);
    refused(['sessions', 'end', '--owner', '-x'], /^sessions end: --owner needs a value$/);
    refused(['sessions', 'list', '--owner', ''], /^sessions list: --owner is not an owner: an owner must not be empty$/);
    refused(['sessions', 'list', '--owner', 'a', '--owner', 'a'], /^sessions list: --owner was given more than once; give it once$/);
    refused(['sessions', 'list', '--owner', 'a\0b'], /^sessions list: --owner is not an owner: an owner must not contain NUL characters$/);
    refused(['sessions', 'end', '--owner', 'a\ud800b'], /no lone surrogates/);
    refused(['sessions', 'show', '--owner', 'alice'], /^sessions show: unknown option --owner$/);
  });

  test('the sessions help explains --owner', async () => {
    const help = await runCli(['sessions', '--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.ok(help.stdout.includes('sessionkeeper sessions list [--sort activity|expiry] [--limit N] [--owner O] [--json]'));
    assert.ok(help.stdout.includes('sessionkeeper sessions end --owner O [--json]'));
    assert.match(help.stdout, /given as --owner=-O/);
  });
});

describe('output with owners', () => {
  const nowMs = Date.parse('2025-01-31T14:00:00Z');
  const session = { id: publicIdOf('raw'), createdAt: nowMs - 7_200_000, lastSeenAt: nowMs - 180_000, expiresAt: nowMs + 1_740_000, sizeBytes: 1536, keys: ['cart'] };

  test('show: the owner and the device facts after the keys, when the session has them, as text for the terminal', () => {
    const details = formatSessionDetails({ ...session, owner: 'alice\u001b[2J', device: { userAgent: 'Firefox/128\r\n', address: '192.0.2.7' } }, nowMs);
    assert.match(details, /\nkeys {7}cart\nowner {6}alice\\u001b\[2J\ndevice {5}Firefox\/128\\u000d\\u000a from 192\.0\.2\.7\n$/);
    assert.doesNotMatch(formatSessionDetails(session, nowMs), /owner|device/);
  });

  test('list: an OWNER column last only when a listed session has an owner, `-` for one without', () => {
    assert.doesNotMatch(formatSessionTable([session], nowMs), /OWNER/);
    const [header, withOwner, without] = formatSessionTable([{ ...session, owner: 'bob' }, { ...session, id: publicIdOf('other') }], nowMs).trimEnd().split('\n');
    assert.ok(header!.endsWith('KEYS  OWNER'), header);
    assert.ok(withOwner!.endsWith('cart  bob'), withOwner);
    assert.ok(without!.endsWith('cart  -'), without);
  });
});
