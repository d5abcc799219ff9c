/**
 * Owners across real processes (SPEC, "Owners"): three processes on one store
 * (the file store's on one directory), an owner's devices spread over them.
 * The cap per owner holds between processes and each eviction is logged once;
 * ending an owner's sessions while their requests are in flight leaves nothing
 * behind (no late write brings a session back, no index entry stays); and
 * sessions created, ended, expired and swept by several processes at once
 * leave the owner index agreeing with the sessions. On every store.
 *
 * Each process runs three owner apps per store, each app on a namespace of
 * its own: one capped at two sessions per owner, one without a cap, one whose
 * sessions expire after 2 s and whose sweeper runs every second. A last test
 * makes certain, within one test process, the interleaving of two file-store
 * processes that the ones above meet only now and then.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileStore, openSessionkeeper, publicIdOf, type SessionkeeperCore, type StoreKind } from '../../middleware/index.ts';
import { newSessionId } from '../../middleware/ids.ts';
import { SESSION_FILE_SUFFIX } from '../../middleware/stores/file-index.ts';
import { silentLogger, type LogLine } from '../helpers/log-capture.ts';
import type { SessionView } from '../helpers/owner-app-child.ts';
import { ownerIndexEntries } from '../helpers/owner-index.ts';
import { startOwnerProcess, type OwnerAppSpec, type OwnerProcess } from '../helpers/owner-process.ts';
import { createNamespace, STORE_KINDS, withFileStore, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { testSessionOptions } from '../helpers/test-settings.ts';
import { Visitor } from '../helpers/visitor.ts';
import { waitUntil } from '../helpers/wait.ts';

const PROCESSES = 3;
const MAX_PER_OWNER = 2;
/** The short-lived app's idle lifetime. */
const BRIEF_TTL_MS = 2_000;
/** How often its sessions are created, ended and read (which keeps the ones that must stay). */
const WAVE_MS = 400;

const APPS = {
  capped: { SESSION_MAX_PER_OWNER: String(MAX_PER_OWNER) },
  plain: {},
  brief: { SESSION_TTL: `${BRIEF_TTL_MS / 1000}s`, SESSION_SWEEP_INTERVAL: '1s' },
} as const;
type AppName = keyof typeof APPS;
const APP_NAMES = Object.keys(APPS) as AppName[];

/** The same device (the same cookie jar) talking to another process. */
function on(device: Visitor, url: string): Visitor {
  const moved = new Visitor(url);
  moved.cookies = device.cookies;
  return moved;
}

/** A request whose answer is the session as the app saw it. */
async function view(device: Visitor, method: string, path: string): Promise<SessionView> {
  const res = await device.request(path, { method });
  assert.equal(res.status, 200, `${method} ${path}`);
  return (await res.json()) as SessionView;
}

/** Lifecycle lines named `event` of these sessions. */
function linesOf(lines: LogLine[], event: string, sids: readonly string[]): LogLine[] {
  return lines.filter((line) => line.msg === event && sids.includes(line.sid as string));
}

/**
 * The lines `event` of `sids` in `logs()`, once every one of `expected` has one: a process's log line can reach
 * the test after the answer of the request that logged it.
 */
async function loggedFor(logs: () => LogLine[], event: string, sids: readonly string[], expected: readonly string[]): Promise<LogLine[]> {
  const has = () => new Set(linesOf(logs(), event, sids).map((line) => line.sid));
  await waitUntil(`${event} logged for each of ${expected.length} sessions`, () => expected.every((sid) => has().has(sid)), 5_000).catch(() => undefined);
  return linesOf(logs(), event, sids);
}

const sorted = <T extends string | null>(ids: readonly T[]): T[] => [...ids].sort();

/** The apps of one kind of store in the three processes, and what the test sees of them. */
interface Cluster {
  namespaces: Record<AppName, StoreNamespace>;
  /** Each app's sessions as an operator's script sees them (listOwnerSessions, store reads). */
  cores: Record<AppName, SessionkeeperCore>;
  /** The app in process `index` (modulo the number of processes). */
  url(app: AppName, index: number): string;
  /** Every log line of the app, from every process. */
  logs(app: AppName): LogLine[];
  /** The public ids parked on `GET /slow` of the app, in every process. */
  parked(app: AppName): (string | null)[];
  /** Lets the app's parked requests go on: in process `index`, or in every one. */
  release(app: AppName, index?: number): void;
}

const clusters = {} as Record<StoreKind, Cluster>;
let processes: OwnerProcess[] = [];
const allNamespaces: StoreNamespace[] = [];
const allCores: SessionkeeperCore[] = [];

// Starting a process costs seconds: three processes run every app of every store, each app on a namespace of its own.
before(async () => {
  const specs: Record<string, OwnerAppSpec> = {};
  for (const kind of STORE_KINDS) {
    for (const app of APP_NAMES) {
      const namespace = await createNamespace(kind);
      allNamespaces.push(namespace);
      specs[`${kind}-${app}`] = { namespace, env: { ...APPS[app] } };
    }
  }
  const started = await Promise.allSettled(Array.from({ length: PROCESSES }, () => startOwnerProcess(specs)));
  processes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  for (const kind of STORE_KINDS) {
    const name = (app: AppName) => `${kind}-${app}`;
    const namespaces = Object.fromEntries(APP_NAMES.map((app) => [app, specs[name(app)]!.namespace])) as Record<AppName, StoreNamespace>;
    const cores = {} as Record<AppName, SessionkeeperCore>;
    for (const app of APP_NAMES) {
      cores[app] = await openSessionkeeper(testSessionOptions(namespaces[app]), { logger: silentLogger() });
      allCores.push(cores[app]);
    }
    clusters[kind] = {
      namespaces,
      cores,
      url: (app, index) => processes[index % PROCESSES]!.url(name(app)),
      logs: (app) => processes.flatMap((child) => child.logs(name(app))),
      parked: (app) => processes.flatMap((child) => child.parked(name(app))),
      release: (app, index) => {
        for (const child of index === undefined ? processes : [processes[index]!]) child.release(name(app));
      },
    };
  }
});

after(async () => {
  await Promise.all(processes.map((child) => child.stop()));
  await Promise.all(allCores.map((core) => core.close()));
  await Promise.all(allNamespaces.map((namespace) => namespace.remove()));
});

const listedIds = async (cluster: Cluster, app: AppName, owner: string) => sorted((await cluster.cores[app].listOwnerSessions(owner)).map((session) => session.id));

/** `count` devices of `owner`, signed in at once on the uncapped app of each process in turn: the devices and their session ids. */
async function signIn(cluster: Cluster, owner: string, count: number): Promise<{ devices: Visitor[]; ids: string[] }> {
  const devices = Array.from({ length: count }, (_, i) => new Visitor(cluster.url('plain', i)));
  const views = await Promise.all(devices.map((device) => view(device, 'POST', `/owner?owner=${owner}`)));
  for (const signedIn of views) assert.equal(signedIn.owner, owner);
  const ids = views.map((signedIn) => signedIn.id!);
  assert.equal(new Set(ids).size, count, 'every device has a session of its own');
  return { devices, ids };
}

describe('the cap per owner, between three processes', () => {
  for (const kind of STORE_KINDS) {
    test(`${kind} store: ${MAX_PER_OWNER} sessions stay, every other device is signed out, each eviction is logged once`, async () => {
      const cluster = clusters[kind];
      const owner = 'ada';
      const devices = Array.from({ length: 9 }, (_, i) => new Visitor(cluster.url('capped', i)));
      // Every other device had an anonymous session first: its sign-in regenerates it.
      await Promise.all(devices.filter((_, i) => i % 2 === 1).map((device) => view(device, 'POST', '/write?step=anonymous')));
      const views = await Promise.all(devices.map((device) => view(device, 'POST', `/owner?owner=${owner}`)));
      const ids = views.map((signedIn) => signedIn.id!);
      assert.equal(new Set(ids).size, devices.length);

      const listed = await listedIds(cluster, 'capped', owner);
      assert.equal(listed.length, MAX_PER_OWNER, `exactly ${MAX_PER_OWNER} live sessions of the owner: ${listed.length}`);
      for (const id of listed) assert.ok(ids.includes(id), 'a listed session is one of the devices\'');
      const evicted = ids.filter((id) => !listed.includes(id));

      // Each device's next request, on another process.
      const reads = await Promise.all(devices.map((device, i) => view(on(device, cluster.url('capped', i + 1)), 'GET', '/whoami')));
      for (const [i, read] of reads.entries()) {
        const kept = listed.includes(ids[i]!);
        assert.deepEqual([read.id, read.owner], kept ? [ids[i], owner] : [null, null], `device ${i} ${kept ? 'stays signed in' : 'is signed out'}`);
      }

      const evictions = await loggedFor(() => cluster.logs('capped'), 'session.evicted', ids, evicted);
      assert.deepEqual(sorted(evictions.map((line) => line.sid as string)), sorted(evicted), 'each evicted session logged once, between the processes');
      for (const line of evictions) assert.equal(line.owner, owner, 'session.evicted names the owner');
      assert.deepEqual(await ownerIndexEntries(cluster.namespaces.capped, owner), listed, 'the index names the kept sessions only');
    });
  }
});

/**
 * Every device of `owner` has a request in flight on another process (it read the session and waits to write
 * it); `end` ends sessions from a third process. Some requests are let go while the ending runs, the rest after.
 */
async function endWhileInFlight(cluster: Cluster, owner: string, end: (devices: Visitor[]) => Promise<Response>): Promise<{ devices: Visitor[]; ids: string[]; ended: number }> {
  const { devices, ids } = await signIn(cluster, owner, 10);
  const slow = Promise.all(devices.map((device, i) => view(on(device, cluster.url('plain', i + 1)), 'GET', `/slow?tag=late${i}`)));
  await waitUntil('every slow request loaded its session', () => ids.every((id) => cluster.parked('plain').includes(id)));
  const ending = end(devices);
  cluster.release('plain', 0);
  const res = await ending;
  assert.equal(res.status, 200);
  const { ended } = (await res.json()) as { ended: number };
  cluster.release('plain');
  for (const [i, before] of (await slow).entries()) assert.deepEqual([before.id, before.owner], [ids[i], owner], 'the slow request had loaded its session');
  return { devices, ids, ended };
}

/** The sessions are gone for good: not in the store, their cookies anonymous everywhere, each ending logged once with the owner. */
async function assertEnded(cluster: Cluster, owner: string, devices: Visitor[], ids: string[]): Promise<void> {
  for (const id of ids) assert.equal(await cluster.cores.plain.store.get(id, 0), undefined, `the ended session ${id.slice(0, 8)} stays ended: no request in flight wrote it back`);
  await Promise.all(
    devices.map(async (device, i) => {
      const read = await view(on(device, cluster.url('plain', i + 2)), 'GET', '/whoami');
      assert.deepEqual(read, { id: null, owner: null, data: {} }, `device ${i} is anonymous`);
    }),
  );
  const destroyed = await loggedFor(() => cluster.logs('plain'), 'session.destroyed', ids, ids);
  assert.deepEqual(sorted(destroyed.map((line) => line.sid as string)), sorted(ids), 'each ending logged once');
  for (const line of destroyed) assert.equal(line.owner, owner, 'session.destroyed names the owner');
}

describe('ending an owner\'s sessions while their requests are in flight in three processes', () => {
  for (const kind of STORE_KINDS) {
    test(`${kind} store: "sign out of the other devices" ends them for good, the device that asked stays signed in`, async () => {
      const cluster = clusters[kind];
      const owner = 'bob';
      const { devices, ids, ended } = await endWhileInFlight(cluster, owner, (all) => on(all[0]!, cluster.url('plain', 2)).request('/end-others', { method: 'POST' }));
      assert.equal(ended, ids.length - 1);
      const [kept, ...others] = ids;
      await assertEnded(cluster, owner, devices.slice(1), others);
      for (const line of linesOf(cluster.logs('plain'), 'session.destroyed', others)) assert.equal(line.by, 'user');
      assert.equal((await cluster.cores.plain.store.get(kept!, Date.now()))?.data.slow, 'late0', 'the kept session\'s own late write landed');
      assert.deepEqual(await listedIds(cluster, 'plain', owner), [kept]);
      assert.deepEqual(await ownerIndexEntries(cluster.namespaces.plain, owner), [kept], 'the index names the kept session only');
      const keptRead = await view(on(devices[0]!, cluster.url('plain', 1)), 'GET', '/whoami');
      assert.deepEqual([keptRead.id, keptRead.owner], [kept, owner]);
    });

    test(`${kind} store: ending every session of an owner leaves nothing: no late write brings one back, no index entry stays`, async () => {
      const cluster = clusters[kind];
      const owner = 'cleo';
      const { devices, ids, ended } = await endWhileInFlight(cluster, owner, () => new Visitor(cluster.url('plain', 2)).request(`/end-owner?owner=${owner}`, { method: 'POST' }));
      assert.equal(ended, ids.length);
      await assertEnded(cluster, owner, devices, ids);
      for (const line of linesOf(cluster.logs('plain'), 'session.destroyed', ids)) assert.equal(line.by, 'admin');
      assert.deepEqual(await listedIds(cluster, 'plain', owner), []);
      assert.deepEqual(await ownerIndexEntries(cluster.namespaces.plain, owner), [], 'no index entry of the owner is left');
    });
  }
});

// The three stores at once: each waits seconds for its sessions to expire.
describe('sessions of one owner created, ended, expired and swept by three processes at once', { concurrency: true }, () => {
  for (const kind of STORE_KINDS) {
    test(`${kind} store: the owner index and the sessions agree, each expiry logged once with the owner`, async () => {
      const cluster = clusters[kind];
      const owner = 'dana';
      const idOf = new Map<Visitor, string>();
      const keep: Visitor[] = [];
      const lapse: Visitor[] = [];
      const forgotten: Visitor[] = [];
      let toForget: Visitor[] = [];
      const signInOne = async (index: number, group: Visitor[]) => {
        const device = new Visitor(cluster.url('brief', index));
        idOf.set(device, (await view(device, 'POST', `/owner?owner=${owner}`)).id!);
        group.push(device);
      };
      const touchKept = () =>
        Promise.all(keep.map(async (device, i) => assert.equal((await view(on(device, cluster.url('brief', i + 1)), 'GET', '/whoami')).owner, owner, 'a kept session stays')));
      const forget = async (devices: Visitor[]) => {
        await Promise.all(devices.map(async (device, i) => assert.equal((await on(device, cluster.url('brief', i + 2)).request('/forget', { method: 'POST' })).status, 204)));
        forgotten.push(...devices);
      };

      // Waves: every process signs in devices (to keep, to sign out next wave, and at first to let lapse), while
      // the last wave's devices sign out elsewhere, the kept ones are read, and the first waves' sessions expire
      // and are swept by every process.
      for (let wave = 0; wave < 5; wave++) {
        const started = Date.now();
        const forgetting = toForget;
        toForget = [];
        await Promise.all([
          ...Array.from({ length: PROCESSES }, (_, p) => Promise.all([signInOne(p, keep), signInOne(p, toForget), wave < 2 ? signInOne(p, lapse) : undefined])),
          forget(forgetting),
          touchKept(),
        ]);
        await sleep(Math.max(0, WAVE_MS - (Date.now() - started)));
      }
      await forget(toForget);

      const ids = (devices: Visitor[]) => sorted(devices.map((device) => idOf.get(device)!));
      const [keptIds, lapsedIds, forgottenIds] = [ids(keep), ids(lapse), ids(forgotten)];
      const allIds = [...idOf.values()];
      const expiries = () => linesOf(cluster.logs('brief'), 'session.expired', allIds);
      // The kept sessions are read every wave until the checks are done.
      let keeping = true;
      const keeper = (async () => {
        while (keeping) await Promise.all([touchKept(), sleep(WAVE_MS)]);
      })();
      keeper.catch(() => undefined); // awaited below, where a failed read fails the test
      try {
        await waitUntil('every lapsed session expired and swept', () => lapsedIds.every((id) => expiries().some((line) => line.sid === id)), 10_000, 100);
        // Every process sweeps at least once more: none may log an expiry again.
        await sleep(1_100);
        await touchKept();
        const now = Date.now();
        const liveIds: string[] = [];
        for (const id of allIds) if (await cluster.cores.brief.store.get(id, now)) liveIds.push(id);
        assert.deepEqual(sorted(liveIds), keptIds, 'the kept sessions live, every other one is gone');
        assert.deepEqual(await listedIds(cluster, 'brief', owner), keptIds, 'every live session is listed, and nothing listed is gone');
        assert.deepEqual(await ownerIndexEntries(cluster.namespaces.brief, owner), keptIds, 'the index names the live sessions only');
      } finally {
        keeping = false;
        await keeper;
      }
      const expired = expiries();
      assert.deepEqual(sorted(expired.map((line) => line.sid as string)), lapsedIds, 'each lapsed session logged as expired once, between the processes; no other');
      for (const line of expired) assert.equal(line.owner, owner, 'session.expired names the owner');
      const destroyed = linesOf(cluster.logs('brief'), 'session.destroyed', allIds);
      assert.deepEqual(sorted(destroyed.map((line) => line.sid as string)), forgottenIds, 'each signed-out session logged once');
      for (const line of destroyed) assert.deepEqual([line.owner, line.by], [owner, 'user']);
    });
  }
});

/**
 * Runs `task`; when it renames a file onto `path`, `meanwhile` runs first, as another process's step can land
 * there (the rename waits its turn in the thread pool). The store imports `rename` by name:
 * `syncBuiltinESMExports` makes that import see the wrapper, and the original is put back afterwards.
 */
async function beforeRenameOnto<T>(path: string, meanwhile: () => Promise<unknown>, task: () => Promise<T>): Promise<T> {
  const { rename } = fs.promises;
  fs.promises.rename = (async (from: fs.PathLike, to: fs.PathLike) => {
    if (String(to) === path) await meanwhile();
    return rename(from, to);
  }) as typeof rename;
  syncBuiltinESMExports();
  try {
    return await task();
  } finally {
    fs.promises.rename = rename;
    syncBuiltinESMExports();
  }
}

/**
 * What the file store's processes above hit now and then, made certain: the store checks that a session is
 * still there and renames the written file into place as one step against its own process's removals only, so
 * an ending by another process sharing the directory can land between the two. Two stores on one directory
 * stand for the two processes (each queues its own steps per session).
 */
describe('the file store shared by two processes: an owner\'s sessions ended between a write\'s check and its rename', () => {
  test('the session stays ended, and is never left live outside its owner\'s index', async () => {
    await withFileStore(async (writer, dir) => {
      const otherProcess = new FileStore({ dir });
      await otherProcess.init();
      try {
        const owner = 'eve';
        const id = publicIdOf(newSessionId());
        const now = Date.now();
        const record = { data: { step: 1 }, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000, owner };
        await writer.create(id, record);
        let ended: string[] = [];
        const path = join(dir, `${id}${SESSION_FILE_SUFFIX}`);
        // A request in flight in the writer's process writes its session; the other process signs the owner out everywhere.
        const signOutEverywhere = async () => {
          ended = await otherProcess.endOwnerSessions(owner, now, []);
        };
        await beforeRenameOnto(path, signOutEverywhere, () => writer.update(id, { ...record, data: { step: 2 } }, now));
        assert.deepEqual(ended, [id], 'the other process ended it');
        const listed = (await otherProcess.list({ owner, sort: 'activity', limit: 10, now })).sessions.map((session) => session.id);
        const left = await otherProcess.get(id, now);
        assert.equal(left, undefined, `the late write brought the ended session back (${JSON.stringify(left?.data)}), ${listed.includes(id) ? 'listed' : 'live but no longer in its owner\'s index, so no later ending of the owner reaches it'}`);
        assert.deepEqual(listed, []);
      } finally {
        await otherProcess.close();
      }
    });
  });
});
