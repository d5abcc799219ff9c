/**
 * `sessionkeeper migrate` as operators run it, a child process on real
 * stores: on every ordered pair, a run killed with SIGKILL half-way and run
 * again leaves every session in the new store once and none in the old one;
 * --dry-run writes nothing; the summary for people and as JSON; the mistakes
 * (no SESSION_STORE_PREVIOUS, a previous store that does not answer); and
 * `sessions count` during a switch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { migrationProgress } from '../../cli/progress.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { previousEnvOf, SAME_KIND_PAIR, SWITCH_PAIRS } from '../helpers/switch-fixtures.ts';
import { openSwitchStores } from '../helpers/switch-scenario.ts';
import { testServerEnv } from '../helpers/test-settings.ts';
import { waitUntil } from '../helpers/wait.ts';
import { jsonLines, runCli, startCli } from './cli-process.ts';

/**
 * Enough sessions that a run is still moving them when the test kills it (at 50 moved), and that the second
 * run still walks more than one batch (500) of a store it is emptying; more only add seeding and moving time.
 */
const SESSIONS = 700;
const DATA = { upload: { fileName: 'notes.txt', lines: ['first', 'second'] } };

/** Two fresh stores of a switch, and the environment of a process switching from the first to the second. */
async function openSwitch(from: StoreNamespace['kind'], to: StoreNamespace['kind']) {
  const stores = await openSwitchStores(from, to);
  return { ...stores, env: testServerEnv(stores.currentNamespace, previousEnvOf(stores.previousNamespace)) };
}

// All pairs at once: most of each test is waiting, for its processes and for the settling of copies in both stores.
describe('sessionkeeper migrate killed half-way and run again', { concurrency: true }, () => {
  for (const [from, to] of [...SWITCH_PAIRS, SAME_KIND_PAIR]) {
    test(`${from} to ${to}: every session ends up in the new store once, none in the old one`, async () => {
      const stores = await openSwitch(from, to);
      try {
        // 50 at a time: with six other pairs running, 200 queued on PostgreSQL's 10-connection pool outwaited its 2 s connect timeout.
        const ids = await seedSessions(stores.previous, { count: SESSIONS, data: DATA, batchSize: 50 });
        const first = startCli(['migrate'], stores.env);
        await waitUntil('the first run to have moved some sessions', async () => (await stores.current.count(Date.now())) >= 50, 30_000, 10);
        await first.stop('SIGKILL');
        const movedBeforeKill = await stores.current.count(Date.now());
        assert.ok(movedBeforeKill < SESSIONS, `killed half-way (${movedBeforeKill} of ${SESSIONS} moved)`);

        // It waits MOVE_SETTLE_MS (10 s) before settling the copies the killed run left in both stores.
        const second = await runCli(['migrate', '--json'], stores.env, 60_000);
        assert.equal(second.status, 0, second.stderr);
        const [summary] = jsonLines(second.stdout);
        assert.equal(summary!.failed, 0);
        assert.equal(summary!.leftInPrevious, 0);
        assert.ok(Number(summary!.moved) > 0 && Number(summary!.moved) <= SESSIONS - movedBeforeKill, 'the second run moved the rest');
        assert.deepEqual(await idsStillStored(stores.previous, ids), [], 'nothing left in the old store, not even a copy');
        assert.equal(await stores.current.count(Date.now()), SESSIONS, 'every session in the new store, and nothing else');
        for (const id of [ids[0]!, ids[SESSIONS >> 1]!, ids.at(-1)!]) assert.deepEqual((await stores.current.get(id, Date.now()))?.data, DATA);

      } finally {
        await stores.close();
      }
    });
  }
});

describe('sessionkeeper migrate, its summary and its mistakes', () => {
  let stores: Awaited<ReturnType<typeof openSwitch>>;
  let ids: string[];

  before(async () => {
    stores = await openSwitch('file', 'postgres');
    ids = await seedSessions(stores.previous, { count: 5, data: DATA });
    await seedSessions(stores.previous, { count: 2, expiresInMs: -60_000 });
  });
  after(() => stores.close());

  test('--dry-run says what a run would do and writes nothing', async () => {
    const [people, json] = await Promise.all([runCli(['migrate', '--dry-run'], stores.env), runCli(['migrate', '--dry-run', '--json'], stores.env)]);
    assert.equal(people.status, 0, people.stderr);
    assert.equal(people.stdout, 'would move 5 sessions from file to postgres (dry run: nothing was written)\nalready there: 0\nexpired or ended, skipped: 0\nfailed: 0\n');
    const [summary] = jsonLines(json.stdout);
    assert.deepEqual({ ...summary, seconds: 0 }, { dryRun: true, from: 'file', to: 'postgres', moved: 5, alreadyThere: 0, expired: 0, failed: 0, leftInPrevious: 5, seconds: 0 });
    assert.equal((await idsStillStored(stores.previous, ids)).length, 5);
    assert.equal(await stores.current.count(0), 0);
  });

  test('sessions count prints the new store\'s number, and the switch on stderr; --json adds the previous store', async () => {
    const [people, json] = await Promise.all([runCli(['sessions', 'count'], stores.env), runCli(['sessions', 'count', '--json'], stores.env)]);
    assert.equal(people.stdout, '0\n');
    assert.equal(people.stderr, 'switching from file: 5 sessions still in the file store, 0 moved in the last hour (sessionkeeper migrate moves the rest)\n');
    assert.deepEqual(jsonLines(json.stdout), [{ live: 0, previous: { store: 'file', healthy: true, live: 5 }, movedLastHour: 0 }]);
  });

  test('a run prints what it moved, skipped and left, and says when SESSION_STORE_PREVIOUS can go', async () => {
    const run = await runCli(['migrate'], stores.env);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^moved 5 sessions from file to postgres in \d+\.\d s \(\d+\/s\)\nalready there: 0\nexpired or ended, skipped: 2\nfailed: 0\nthe file store holds no live session: SESSION_STORE_PREVIOUS can be removed \(then restart\)\n$/);
    assert.equal(run.stderr, '', 'no progress line for a few sessions off a terminal');
    const events = jsonLines((await runCli(['events', '--json', '--limit', '100'], stores.env)).stdout);
    assert.deepEqual(new Set(events.filter((event) => event.event === 'session.moved').map((event) => event.sid)), new Set(ids), 'each move is in the shared event log');
    assert.ok(events.every((event) => event.event !== 'session.moved' || (event.from === 'file' && event.to === 'postgres')));
    assert.equal(events.filter((event) => event.event === 'session.expired' && event.store === 'file').length, 2, 'expired sessions swept from the old store, logged as its own');
  });

  // Each a CLI process of its own, at once: none changes the switch above (the first two stop before any store
  // is opened, the others use stores of their own), and one after the other they took four process start-ups.
  describe('its mistakes', { concurrency: true }, () => {
    test('without SESSION_STORE_PREVIOUS: exit status 2 and one line saying what to set', async () => {
      const { SESSION_STORE_PREVIOUS: _, PREVIOUS_SESSION_FILE_DIR: __, ...env } = stores.env;
      const run = await runCli(['migrate'], env);
      assert.equal(run.status, 2);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^sessionkeeper: migrate moves sessions from SESSION_STORE_PREVIOUS to SESSION_STORE: set SESSION_STORE_PREVIOUS to the store they are in now \(README: "Switching backends"\)\n$/);
    });

    test('a wrong switch setting: exit status 2 with the setting\'s one line', async () => {
      const run = await runCli(['migrate'], { ...stores.env, SESSION_STORE_PREVIOUS: 'mysql' });
      assert.equal(run.status, 2);
      assert.match(run.stderr, /^sessionkeeper: SESSION_STORE_PREVIOUS="mysql" is not valid: expected file, redis, postgres\n$/);
    });

    test('two names for one store: exit status 2 before anything is moved, every session still there', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sessionkeeper-alias-'));
      const alias = `${dir}-alias`;
      await symlink(dir, alias);
      try {
        const store = new FileStore({ dir });
        const kept = await seedSessions(store, { count: 3 });
        const run = await runCli(['migrate'], { ...testServerEnv(await namespaceOf('file')), SESSION_FILE_DIR: dir, SESSION_STORE_PREVIOUS: 'file', PREVIOUS_SESSION_FILE_DIR: alias });
        assert.equal(run.status, 2, run.stderr);
        assert.match(run.stderr, /^sessionkeeper: SESSION_STORE_PREVIOUS names the same sessions as SESSION_STORE \(.*\), under another name: point the PREVIOUS_… settings at where the sessions are now; nothing was moved\n$/);
        assert.deepEqual(await idsStillStored(store, kept), kept);
        assert.equal(await store.count(Date.now()), 3, 'and the probe is gone');
      } finally {
        await rm(alias, { force: true });
        await rm(dir, { recursive: true, force: true });
      }
    });

    test('a previous store that does not answer: exit status 1, one line naming it, nothing moved', async () => {
      const run = await runCli(['migrate'], { ...testServerEnv(await namespaceOf('postgres')), SESSION_STORE_PREVIOUS: 'redis', PREVIOUS_REDIS_URL: 'redis://127.0.0.1:1' });
      assert.equal(run.status, 1);
      assert.equal(run.stdout, '');
      // The guard's log line of the outage comes first, as for every command (store-down.test.ts).
      assert.match(run.stderr.trimEnd().split('\n').at(-1)!, /^sessionkeeper: The redis session store is not answering: .+$/);
    });
  });
});

/** A namespace removed once the suite ends. */
const extraNamespaces: StoreNamespace[] = [];
async function namespaceOf(kind: StoreNamespace['kind']): Promise<StoreNamespace> {
  const namespace = await createNamespace(kind);
  extraNamespaces.push(namespace);
  return namespace;
}
after(() => Promise.all(extraNamespaces.map((namespace) => namespace.remove())));

describe('the migration\'s progress line', () => {
  /** A stderr stand-in: what was written, and whether it is a terminal. */
  function stream(isTTY: boolean): { written: string[]; stream: NodeJS.WriteStream } {
    const written: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        written.push(String(chunk));
        done();
      },
    });
    return { written, stream: Object.assign(sink, { isTTY }) as unknown as NodeJS.WriteStream };
  }

  test('off a terminal: a line every 5000 sessions, with the share and the count', () => {
    const { written, stream: out } = stream(false);
    const progress = migrationProgress(12_000, out);
    for (const done of [1000, 4999, 5000, 7000, 10_000, 12_000]) progress.update(done);
    progress.done();
    assert.equal(written.length, 2);
    assert.match(written[0]!, /^\[#{10}-{14}\] {2}42% {2}5000 of 12000 sessions {2}\d+\/s\n$/);
    assert.match(written[1]!, /^\[#{20}-{4}\] {2}83% {2}10000 of 12000 sessions/);
  });

  test('on a terminal: one line redrawn in place, cleared at the end', () => {
    const { written, stream: out } = stream(true);
    const progress = migrationProgress(0, out);
    progress.update(0);
    progress.done();
    assert.deepEqual(written.map((text) => text.replace(/\d+\/s/, 'N/s')), ['\r\x1b[2K[########################] 100%  0 of 0 sessions  N/s', '\r\x1b[2K']);
  });
});
