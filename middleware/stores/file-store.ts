/**
 * The file store: one JSON file per session, `<public id>.json`, in one
 * directory. Writes are atomic (temporary file in the same directory, fsync,
 * rename), so a crash leaves the old or the new version of a session, never
 * half of one. Each file's mtime is set to the session's expiry and its atime
 * to its last activity: listing, counting and sweeping walk the directory with
 * `stat` instead of reading every file. Listing reads the content of the
 * sessions it shows; sweeping decides by a fresh `stat` taken with the unlink.
 * Beside the sessions: the owner index (`.owners/`, `.owned/`, see
 * file-owner-index.ts) and the tombstones of sessions being ended (`.ended/`,
 * see file-tombstones.ts).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsync, futimesSync, lstatSync, open, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { access, link, mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { decodeCursor, encodeCursor, type CursorPosition } from '../cursor.ts';
import { isWellFormedPublicId } from '../ids.ts';
import {
  assertNamespaceName, counterData, dataJsonOf, expiryOf, isDueToRoll, ownerDigest, summaryOf,
  type CounterRule, type CounterState, type DeviceFacts, type RemovedSession, type Rolling, type ListOptions, type SessionPage, type SessionRecord, type SessionStore, type SessionSummary } from '../store.ts';
import { FileEventLog } from '../event-log/file-event-log.ts';
import { withLockFile } from './lock-file.ts';
import { BoundedSelection, mapConcurrently, SESSION_FILE_SUFFIX, SessionDirectoryWalk, TEMP_FILE_PREFIX, walkSessionDirectory, type SessionFileHint } from './file-index.ts';
import { FileOwnerIndex } from './file-owner-index.ts';
import { FileTombstones } from './file-tombstones.ts';

/** What `new FileStore(…)` takes. */
export interface FileStoreOptions {
  /** Directory of the session files; `init()` creates it (mode 0700) when missing. */
  dir: string;
}

const FORMAT_VERSION = 1;
/** Lock file of evictions; its leading dot keeps it out of every session walk. */
const EVICTION_LOCK_NAME = '.evict.lock';
/** How long a purge's walk stays open for the next batch of the same sweep. */
const PARKED_WALK_MS = 5_000;
/** A temporary file older than this was left by a write that crashed. */
const STALE_TEMP_FILE_MS = 60_000;
/** Our own reads must not move atime, which holds lastSeenAt; the flag exists on Linux only. */
const O_NOATIME = constants.O_NOATIME ?? 0;

/** The file content: the record plus a format version. */
interface StoredSession extends SessionRecord {
  v: typeof FORMAT_VERSION;
}

/**
 * Sessions as files in one directory, for one host (several processes on it may
 * share the directory). Its methods keep the SessionStore contract.
 */
export class FileStore implements SessionStore {
  readonly kind = 'file' as const;
  /** The absolute path of the session directory. */
  readonly location: string;
  /** Per session id, the last of the renames and unlinks queued on it (see `exclusive`). */
  readonly #pending = new Map<string, Promise<unknown>>();
  /** The directory walk a purge left open for the next batch (see `purgeExpired`). */
  #parkedWalk: { walk: SessionDirectoryWalk; timer: NodeJS.Timeout } | undefined;
  /** Which sessions each owner has (see file-owner-index.ts). */
  readonly #owners: FileOwnerIndex;
  /** Sessions being ended, for writes racing their removal from another process (see file-tombstones.ts). */
  readonly #tombstones: FileTombstones;

  constructor(options: FileStoreOptions) {
    this.location = resolve(options.dir);
    this.#owners = new FileOwnerIndex(this.location, (id) => this.pathOf(id));
    this.#tombstones = new FileTombstones(this.location);
  }

  async init(): Promise<void> {
    await mkdir(this.location, { recursive: true, mode: 0o700 });
  }

  async get(id: string, now: number, roll?: Rolling): Promise<SessionRecord | undefined> {
    const record = this.read(id);
    if (!record || record.expiresAt <= now) return undefined;
    if (!roll || !isDueToRoll(roll, record.lastSeenAt, now)) return record;
    const rolled = { ...record, lastSeenAt: now, expiresAt: expiryOf(roll, record.createdAt, now) };
    // Written back only while the session is still there: a destroy meanwhile wins.
    return (await this.write(id, rolled, () => this.liveSince(id, now))) ? rolled : undefined;
  }

  /**
   * An owned session is indexed before its file is written. With a cap, creations for one owner take turns
   * (a lock file per owner, which every process sharing the directory respects): each evicts what lies
   * beyond the cap, as the one before left it, then links and writes.
   */
  async create(id: string, record: SessionRecord, maxPerOwner = 0): Promise<RemovedSession[]> {
    // Stores only ever get public ids; the id itself stays out of the message, in case it is a raw one.
    if (!isWellFormedPublicId(id)) throw new TypeError('FileStore: a session id must be a public id');
    const owner = record.owner;
    if (owner === undefined) {
      this.#owners.unlink(id);
      await this.write(id, record);
      return [];
    }
    const createOwned = async () => {
      const evicted = maxPerOwner > 0 ? await this.evictOwnerBeyond(owner, maxPerOwner - 1, record.lastSeenAt, id) : [];
      await this.#owners.link(id, owner);
      await this.write(id, record);
      return evicted;
    };
    if (maxPerOwner <= 0) return createOwned();
    await this.init();
    const lockPath = this.#owners.lockPathOf(owner);
    // Creations of this process for the owner queue here first, so only one of them at a time polls the lock file.
    return this.exclusive(`owner:${lockPath}`, () => withLockFile(lockPath, createOwned));
  }

  /** Removes the owner's least recently used live sessions until `keep` remain (not counting `exceptId`). */
  private async evictOwnerBeyond(owner: string, keep: number, now: number, exceptId: string): Promise<RemovedSession[]> {
    const live = (await this.#owners.liveSessionsOf(owner, now)).filter(({ id }) => id !== exceptId);
    live.sort((a, b) => b.lastSeenAt - a.lastSeenAt || compareIds(b.id, a.id));
    const victims = live.slice(keep);
    const evicted = await mapConcurrently(victims, ({ id }) => this.unlinkSession(id));
    return evicted.filter((removed): removed is RemovedSession => removed !== undefined);
  }

  /**
   * Hard-links the written temporary file to the session's name, which fails with EEXIST whoever holds the
   * name, in this process or another sharing the directory: one atomic create-if-absent. The file is synced
   * before it becomes visible, like every session write, and the directory after, so the name survives a crash.
   */
  async insert(id: string, record: SessionRecord): Promise<boolean> {
    if (!isWellFormedPublicId(id)) throw new TypeError('FileStore: a session id must be a public id');
    if (record.owner === undefined) return this.write(id, record, undefined, { onlyIfAbsent: true });
    await this.#owners.link(id, record.owner);
    if (await this.write(id, record, undefined, { onlyIfAbsent: true })) return true;
    // The id was taken: the index follows the session that holds it (the same owner, when it is the same session).
    const holder = this.read(id);
    if (holder?.owner !== record.owner) {
      this.#owners.unlinkFrom(record.owner, id);
      if (holder?.owner !== undefined) await this.#owners.link(id, holder.owner);
    }
    return false;
  }

  /**
   * Reads nothing first: whether the session is still live is checked with the rename itself (see
   * `liveSince`). The file holds the whole record, so the owner and device are written back as the caller
   * passes them (the middleware passes what it read); a caller that leaves out an indexed session's owner,
   * or names another, gets the stored one kept, as the other stores keep theirs.
   */
  async update(id: string, record: SessionRecord, now: number): Promise<boolean> {
    if (!isWellFormedPublicId(id)) return false;
    const linked = this.#owners.linkedDigest(id);
    const ownerKept = linked === undefined ? record.owner === undefined : record.owner !== undefined && ownerDigest(record.owner) === linked;
    const stored = ownerKept ? undefined : this.read(id);
    const written = ownerKept ? record : { ...record, owner: stored?.owner, device: stored?.device };
    return this.write(id, written, () => this.liveSince(id, now));
  }

  async destroy(id: string): Promise<boolean> {
    return isWellFormedPublicId(id) && (await this.unlinkSession(id)) !== undefined;
  }

  /** With an owner, the candidates come from the owner's index, not a walk of the directory. */
  async list({ limit, cursor, sort, now, owner }: ListOptions): Promise<SessionPage> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const order = sort === 'expiry' ? byExpiry : byActivity;
    // One candidate beyond the page says whether a next page exists.
    const selection = new BoundedSelection<CursorPosition>(limit + 1, order);
    const offer = ({ id, expiresAt, lastSeenAt }: SessionFileHint) => {
      if (expiresAt <= now) return;
      const position = { score: sort === 'expiry' ? expiresAt : lastSeenAt, id };
      if (!after || order(position, after) > 0) selection.offer(position);
    };
    if (owner === undefined) await walkSessionDirectory(this.location, { session: offer });
    else for (const hint of await this.#owners.liveSessionsOf(owner, now)) offer(hint);
    const candidates = selection.values();
    const onPage = candidates.slice(0, limit);
    const records = onPage.map(({ id }) => this.read(id));
    const sessions: SessionSummary[] = [];
    onPage.forEach(({ id }, index) => {
      const record = records[index];
      // Gone or expired since the walk (or, for an owner's page, no longer that owner's): left out, the page stays in order.
      if (record && record.expiresAt > now && (owner === undefined || record.owner === owner)) sessions.push(summaryOf(id, record));
    });
    // The cursor follows the walk, so a session removed meanwhile never shifts the next page.
    const nextCursor = candidates.length > limit ? encodeCursor(onPage[onPage.length - 1]!) : null;
    return { sessions, nextCursor };
  }

  async count(now: number): Promise<number> {
    let live = 0;
    await walkSessionDirectory(this.location, {
      session: ({ expiresAt }) => {
        if (expiresAt > now) live++;
      },
    });
    return live;
  }

  /** One directory walk, where paging through `list` would walk the whole directory once per page. */
  async *walkIds(now: number, batchSize: number): AsyncIterable<string[]> {
    const walk = await SessionDirectoryWalk.open(this.location, false);
    try {
      let batch: string[] = [];
      for (let entry = await walk.next(); entry; entry = await walk.next()) {
        if (entry.kind !== 'session' || entry.hint.expiresAt <= now) continue;
        batch.push(entry.hint.id);
        if (batch.length < batchSize) continue;
        yield batch;
        batch = [];
      }
      if (batch.length > 0) yield batch;
    } finally {
      await walk.close();
    }
  }

  /**
   * Walks the directory once per sweep, not once per batch: a call that reaches `batchSize` leaves its
   * walk open, and the next call (the sweeper's next batch, a moment later) resumes it where it stopped.
   * A walk nobody resumes within PARKED_WALK_MS is closed; a call that finds none starts a new one.
   */
  async purgeExpired(now: number, batchSize: number): Promise<RemovedSession[]> {
    if (batchSize < 1) return [];
    let walk = this.#resumePurgeWalk();
    if (!walk) {
      // A new sweep: the tombstones of the last one are no longer needed.
      await this.#tombstones.removeOld(Date.now());
      walk = await SessionDirectoryWalk.open(this.location, true);
    }
    const candidates: string[] = [];
    let over = true;
    try {
      while (candidates.length < batchSize) {
        const entry = await walk.next();
        if (!entry) break;
        if (entry.kind === 'temp') await this.removeStaleTempFile(entry.name, entry.changedAtMs);
        else if (entry.hint.expiresAt <= now) candidates.push(entry.hint.id);
      }
      over = candidates.length < batchSize;
    } finally {
      if (over) await walk.close();
      else this.#parkPurgeWalk(walk);
    }
    const purged = await mapConcurrently(candidates, (id) => this.purgeIfExpired(id, now));
    return purged.filter((removed): removed is RemovedSession => removed !== undefined);
  }

  /**
   * The file's mtime decides, read again at the moment of the unlink and in the same step against this
   * process's writes (`exclusive`): every session file gets its mtime set to the session's expiry before
   * it is renamed into place, so mtime and content agree, and a write that moved the expiry since the
   * walk's stat keeps the session. One `lstat` instead of reading the content keeps a purge of 100,000
   * sessions without owners to three file operations each (with the `readlink` that says it has none); an
   * owned one also has its content read for its owner, a tombstone touched and its index entries removed.
   * Only the process whose unlink succeeds reports the id, so each expiry is reported once.
   */
  private purgeIfExpired(id: string, now: number): Promise<RemovedSession | undefined> {
    return this.exclusive(id, async () => {
      const stats = lstatSync(this.pathOf(id), { throwIfNoEntry: false });
      if (!stats?.isFile() || Math.round(stats.mtimeMs) > now) return undefined;
      return this.removeFile(id, { expired: true });
    });
  }

  #parkPurgeWalk(walk: SessionDirectoryWalk): void {
    void this.#resumePurgeWalk()?.close().catch(() => undefined);
    const timer = setTimeout(() => void this.#resumePurgeWalk()?.close().catch(() => undefined), PARKED_WALK_MS);
    timer.unref();
    this.#parkedWalk = { walk, timer };
  }

  /** Takes the parked walk, if any, so that no two calls share one. */
  #resumePurgeWalk(): SessionDirectoryWalk | undefined {
    const parked = this.#parkedWalk;
    if (!parked) return undefined;
    clearTimeout(parked.timer);
    this.#parkedWalk = undefined;
    return parked.walk;
  }


  async evictBeyond(maxCount: number, now: number, batchSize: number): Promise<RemovedSession[]> {
    // Evictors take turns through a lock file, so each counts what the one before left.
    return withLockFile(join(this.location, EVICTION_LOCK_NAME), async () => {
      let live = 0;
      const selection = new BoundedSelection<CursorPosition>(batchSize, byExpiry);
      await walkSessionDirectory(this.location, {
        session: ({ id, expiresAt }) => {
          if (expiresAt <= now) return;
          live += 1;
          selection.offer({ score: expiresAt, id });
        },
      });
      const victims = selection.values().slice(0, Math.max(0, live - maxCount));
      const evicted = await mapConcurrently(victims, ({ id }) => this.unlinkSession(id));
      return evicted.filter((removed): removed is RemovedSession => removed !== undefined);
    });
  }

  /** The owner's index names the candidates; each is removed as `destroy` removes one, if it is live and still that owner's. */
  async endOwnerSessions(owner: string, now: number, except: readonly string[]): Promise<string[]> {
    const skipped = new Set(except);
    const candidates = (await this.#owners.liveSessionsOf(owner, now)).filter(({ id }) => !skipped.has(id));
    const ended = await mapConcurrently(candidates, ({ id }) =>
      this.exclusive(id, async () => {
        const record = this.read(id);
        if (!record || record.expiresAt <= now || record.owner !== owner) return undefined;
        return (await this.removeFile(id)) ? id : undefined;
      }),
    );
    return ended.filter((id): id is string => id !== undefined);
  }

  async destroyAll(): Promise<number> {
    let removed = 0;
    await walkSessionDirectory(this.location, {
      session: async ({ id }) => {
        if (await this.unlinkSession(id)) removed++;
      },
      tempFile: (name, changedAtMs) => this.removeStaleTempFile(name, changedAtMs),
    });
    return removed;
  }

  /**
   * Read, count, write, under a lock file per counter that every process sharing the directory respects
   * (its leading dot keeps it out of every session walk). Counters are rare: a failed sign-in, not a request.
   */
  async increment(id: string, now: number, rule: CounterRule): Promise<CounterState> {
    if (!isWellFormedPublicId(id)) throw new TypeError('FileStore: a counter id must be a public id');
    await this.init();
    // Hits of this process queue here first, so only one of them at a time polls the lock file.
    return this.exclusive(`counter:${id}`, () => withLockFile(join(this.location, `.${id}.lock`), async () => {
      const current = this.read(id);
      const live = current && current.expiresAt > now && typeof current.data.count === 'number' ? current : undefined;
      const count = live ? (live.data.count as number) + 1 : 1;
      let expiresAt = live ? live.expiresAt : now + rule.windowMs;
      if (count === rule.limit) expiresAt = Math.max(expiresAt, now + rule.holdMs);
      // Not synced to the disk: a crash may lose the last hits of a counter, never leave half a file.
      await this.write(id, { data: counterData(count), createdAt: live?.createdAt ?? now, lastSeenAt: now, expiresAt }, undefined, { sync: false });
      return { count, expiresAt };
    }));
  }

  /** The shared event log in `<dir>/.events` (see FileEventLog). */
  openEventLog(retentionMs: number): FileEventLog {
    return new FileEventLog(this.location, retentionMs);
  }

  /** A subdirectory `<dir>/<name>`: a walk of this directory passes over it, as it passes over every non-session file. */
  withNamespace(name: string): FileStore {
    assertNamespaceName(name);
    return new FileStore({ dir: join(this.location, name) });
  }

  async ping(): Promise<void> {
    // A vanished directory is made again, as a write would: the store is healthy if it can be.
    await mkdir(this.location, { recursive: true, mode: 0o700 });
    if (!(await stat(this.location)).isDirectory()) throw new Error(`FileStore: ${this.location} is not a directory`);
    await access(this.location, constants.W_OK);
  }

  async close(): Promise<void> {
    // The one thing held between calls: a purge's walk parked for its next batch.
    await this.#resumePurgeWalk()?.close();
  }

  /** Only ever called with a validated public id, so the path stays inside the directory. */
  private pathOf(id: string): string {
    return join(this.location, `${id}${SESSION_FILE_SUFFIX}`);
  }

  /**
   * The record in a session file, or undefined when the id is not a public id, the file is missing, or unreadable.
   * Read with synchronous calls: a session file is small (at most SESSION_MAX_BYTES) and in the page cache,
   * so open, read and close take a few µs each, where three trips through libuv's thread pool cost ~140 µs
   * of CPU (bench/README.md). The store is for a local disk, where these calls do not block for long.
   */
  private read(id: string): SessionRecord | undefined {
    if (!isWellFormedPublicId(id)) return undefined;
    try {
      return parseSessionFile(readWithoutTouchingAtime(this.pathOf(id)));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * While the session's file exists and has not expired at `now` by its mtime (which every write sets to the
   * expiry before renaming the file into place), when that version of it appeared (its ctime, ms); undefined
   * otherwise. A synchronous `lstat`: a few µs, no thread-pool trip.
   */
  private liveSince(id: string, now: number): number | undefined {
    const stats = lstatSync(this.pathOf(id), { throwIfNoEntry: false });
    return stats?.isFile() === true && Math.round(stats.mtimeMs) > now ? stats.ctimeMs : undefined;
  }

  /**
   * Writes a session atomically: temporary file, times as the index hint, fsync (unless `sync` is false), rename.
   * With `stillThere`, writes nothing and returns false when it says the session is gone, and takes back what
   * it wrote when a removal from another process landed between that check and the rename (see
   * file-tombstones.ts). With `onlyIfAbsent`,
   * writes nothing and returns false when a file already has the session's name.
   *
   * Three steps go through libuv's thread pool: creating the file and renaming it, which take the directory's
   * lock and the file system's journal and so can wait behind another write's fsync, and the fsync itself.
   * Writing the few KB, setting the times and closing only touch the page cache and are done synchronously:
   * three trips through the pool instead of six (bench/README.md measures both). The order that makes the
   * write safe is kept: the content and its times reach the disk before the rename makes them the session.
   */
  private async write(
    id: string,
    record: SessionRecord,
    stillThere?: () => number | undefined,
    { sync = true, onlyIfAbsent = false } = {},
  ): Promise<boolean> {
    const tempPath = join(this.location, `${TEMP_FILE_PREFIX}${nextTempName()}`);
    try {
      const fd = await this.openNew(tempPath);
      try {
        writeAllSync(fd, serialize(record));
        // futimes takes seconds: atime carries lastSeenAt, mtime carries expiresAt.
        futimesSync(fd, record.lastSeenAt / 1000, record.expiresAt / 1000);
        if (sync) await fsyncInPool(fd);
      } finally {
        closeSync(fd);
      }
      // POSIX has no "rename only if the target exists": the check and the rename run as one step
      // against this process's unlinks, so a destroy cannot land between them and be undone; another
      // process's removal can, and leaves a tombstone that the check after the rename finds.
      return await this.exclusive(id, async () => {
        const checkedVersionSince = stillThere?.();
        if (stillThere && checkedVersionSince === undefined) {
          removeQuietly(tempPath);
          return false;
        }
        if (onlyIfAbsent) return (await linkUnlessTaken(tempPath, this.pathOf(id))) && (await this.syncDirectory());
        await rename(tempPath, this.pathOf(id));
        if (checkedVersionSince !== undefined && this.#tombstones.endedSince(id, checkedVersionSince)) {
          this.#tombstones.takeBack(id, this.pathOf(id));
          return false;
        }
        return true;
      });
    } catch (error) {
      removeQuietly(tempPath);
      throw error;
    }
  }

  /**
   * Opens a new temporary file. A directory that vanished (removed by hand, a cleaned tmpfs) is made
   * again, so the store recovers without a restart; anything else (EACCES, ENOSPC) still rejects.
   */
  private async openNew(tempPath: string): Promise<number> {
    try {
      return await openInPool(tempPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(this.location, { recursive: true, mode: 0o700 });
      return openInPool(tempPath);
    }
  }

  /** Syncs the directory, so that a name just linked into it survives a crash (an insert is durable); true. */
  private async syncDirectory(): Promise<true> {
    const fd = await new Promise<number>((resolve, reject) => open(this.location, 'r', (error, opened) => (error ? reject(error) : resolve(opened))));
    try {
      await fsyncInPool(fd);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** Removes a session file and its owner index entries; what it removed, or undefined when it was not there. */
  private unlinkSession(id: string): Promise<RemovedSession | undefined> {
    return this.exclusive(id, () => this.removeFile(id));
  }

  /**
   * Unlinks a session file (callers hold `exclusive`), then its owner index entries; what this call removed,
   * or undefined. An owned session's file is read first, for its owner: the index keeps only a digest.
   * A tombstone goes first, so that a write racing from another process takes itself back (see
   * file-tombstones.ts). An unowned expired session (`expired`) is removed without one: one that a racing
   * roll brings back was in use when it was rolled, and its owner index has nothing to lose.
   */
  private async removeFile(id: string, { expired = false } = {}): Promise<RemovedSession | undefined> {
    const digest = this.#owners.linkedDigest(id);
    const owned = digest !== undefined;
    const owner = owned ? this.read(id)?.owner : undefined;
    const tombstoned = owned || !expired;
    if (tombstoned) this.#tombstones.touch(id);
    try {
      await unlink(this.pathOf(id));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      // Gone already: removed by someone else, or taken back by a write that saw this call's tombstone
      // before this unlink, in which case the ending is this call's to report.
      if (!tombstoned || !this.#tombstones.claimTakenBack(id)) return undefined;
    }
    this.#owners.unlink(id, undefined, digest);
    return owner === undefined ? { id } : { id, owner };
  }

  /** Runs `task` after every earlier exclusive task on the same key (a session id, or a counter's lock) has settled. */
  private exclusive<T>(id: string, task: () => Promise<T>): Promise<T> {
    const run = (this.#pending.get(id) ?? Promise.resolve()).then(task, task);
    const settled = run.catch(() => undefined);
    this.#pending.set(id, settled);
    void settled.then(() => {
      if (this.#pending.get(id) === settled) this.#pending.delete(id);
    });
    return run;
  }

  /** ctime, not mtime: a temporary file's mtime is already set to the session's expiry. */
  private async removeStaleTempFile(name: string, changedAtMs: number): Promise<void> {
    if (changedAtMs < Date.now() - STALE_TEMP_FILE_MS) await rm(join(this.location, name), { force: true });
  }
}

const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** Soonest expiry first; ties by id. */
const byExpiry = (a: CursorPosition, b: CursorPosition) => a.score - b.score || compareIds(a.id, b.id);
/** Latest activity first; ties by id, descending too, so the order is the exact reverse of (score, id). */
const byActivity = (a: CursorPosition, b: CursorPosition) => b.score - a.score || compareIds(b.id, a.id);

/** A StoredSession as JSON, the data's own encoding spliced in when the caller passed one (it is valid JSON of an object). */
function serialize(record: SessionRecord): string {
  const { createdAt, lastSeenAt, expiresAt, owner, device } = record;
  const fields: Omit<StoredSession, 'data'> = { v: FORMAT_VERSION, createdAt, lastSeenAt, expiresAt };
  if (owner !== undefined) fields.owner = owner;
  if (device !== undefined) fields.device = device;
  return `${JSON.stringify(fields).slice(0, -1)},"data":${dataJsonOf(record)}}`;
}

/**
 * Temporary file names: unique, not secret (the directory is 0700 and the file is opened with O_EXCL). A
 * random part per process keeps processes sharing the directory apart; a counter keeps this process's writes
 * apart, without a draw from the CSPRNG for each.
 */
const TEMP_NAME_PROCESS_PART = `${process.pid.toString(36)}-${randomBytes(6).toString('hex')}`;
let tempNameCounter = 0;
function nextTempName(): string {
  tempNameCounter += 1;
  return `${TEMP_NAME_PROCESS_PART}-${tempNameCounter.toString(36)}`;
}

/** Writes all of `text` at the file's current offset: a write to a regular file may, rarely, take less. */
function writeAllSync(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
}

/** A foreign or truncated file is no session: undefined, never an exception. */
function parseSessionFile(text: string): SessionRecord | undefined {
  let parsed: Partial<StoredSession> | null;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.v !== FORMAT_VERSION) return undefined;
  const { data, createdAt, lastSeenAt, expiresAt, owner, device } = parsed;
  const timesValid = [createdAt, lastSeenAt, expiresAt].every((time) => Number.isFinite(time));
  if (!timesValid || typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const record: SessionRecord = { data, createdAt: createdAt!, lastSeenAt: lastSeenAt!, expiresAt: expiresAt! };
  if (typeof owner === 'string') record.owner = owner;
  if (isDeviceFacts(device)) record.device = device;
  return record;
}

function isDeviceFacts(value: unknown): value is DeviceFacts {
  const facts = value as DeviceFacts | null | undefined;
  return typeof facts?.userAgent === 'string' && typeof facts.address === 'string';
}

function readWithoutTouchingAtime(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | O_NOATIME);
  } catch (error) {
    // O_NOATIME is refused (EPERM) on files another user owns: read them plainly.
    if (!O_NOATIME || (error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    fd = openSync(path, constants.O_RDONLY);
  }
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** fsync through libuv's thread pool: the step of a write that waits on the disk. */
function fsyncInPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/** Creates a new file (O_EXCL, mode 0600) through the thread pool, as a plain descriptor (no FileHandle to close). */
function openInPool(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'wx', 0o600, (error, fd) => (error ? reject(error) : resolve(fd))));
}

/** Gives the temporary file the session's name unless that name is taken (EEXIST), then drops the temporary name. */
async function linkUnlessTaken(tempPath: string, path: string): Promise<boolean> {
  try {
    await link(tempPath, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    removeQuietly(tempPath);
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Cleanup on a path that may not exist; the error that led here is the one worth reporting. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // nothing more to do: the temporary file is swept as stale later
  }
}
