/**
 * The file store: one JSON file per session, `<public id>.json`, in one
 * directory. Writes are atomic (temporary file in the same directory, fsync,
 * rename), so a crash leaves the old or the new version of a session, never
 * half of one. Each file's mtime is set to the session's expiry and its atime
 * to its last activity: listing, counting and sweeping walk the directory with
 * `stat` instead of reading every file, and check the content before acting.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { decodeCursor, encodeCursor, type CursorPosition } from '../cursor.ts';
import { isWellFormedPublicId } from '../ids.ts';
import { dataSizeBytes, type ListOptions, type SessionPage, type SessionRecord, type SessionStore, type SessionSummary } from '../store.ts';
import { BoundedSelection, mapConcurrently, SESSION_FILE_SUFFIX, TEMP_FILE_PREFIX, walkSessionDirectory } from './file-index.ts';

export interface FileStoreOptions {
  /** Directory of the session files; `init()` creates it (mode 0700) when missing. */
  dir: string;
}

const FORMAT_VERSION = 1;
/** A temporary file older than this was left by a write that crashed. */
const STALE_TEMP_FILE_MS = 60_000;
/** Our own reads must not move atime, which holds lastSeenAt; the flag exists on Linux only. */
const O_NOATIME = constants.O_NOATIME ?? 0;

/** The file content: the record plus a format version. */
interface StoredSession extends SessionRecord {
  v: typeof FORMAT_VERSION;
}

export class FileStore implements SessionStore {
  readonly kind = 'file' as const;
  /** The absolute path of the session directory. */
  readonly location: string;

  constructor(options: FileStoreOptions) {
    this.location = resolve(options.dir);
  }

  async init(): Promise<void> {
    await mkdir(this.location, { recursive: true, mode: 0o700 });
  }

  async get(id: string, now: number): Promise<SessionRecord | undefined> {
    const record = await this.read(id);
    return record && record.expiresAt > now ? record : undefined;
  }

  async create(id: string, record: SessionRecord): Promise<void> {
    // Stores only ever get public ids; the id itself stays out of the message, in case it is a raw one.
    if (!isWellFormedPublicId(id)) throw new TypeError('FileStore: a session id must be a public id');
    await this.write(id, record);
  }

  async update(id: string, record: SessionRecord, now: number): Promise<boolean> {
    if (!(await this.get(id, now))) return false;
    return this.write(id, record, () => this.exists(id));
  }

  async touch(id: string, lastSeenAt: number, expiresAt: number, now: number): Promise<boolean> {
    const current = await this.get(id, now);
    if (!current) return false;
    return this.write(id, { ...current, lastSeenAt, expiresAt }, () => this.exists(id));
  }

  async destroy(id: string): Promise<boolean> {
    return isWellFormedPublicId(id) && this.unlinkSession(id);
  }

  async list({ limit, cursor, sort, now }: ListOptions): Promise<SessionPage> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const order = sort === 'expiry' ? byExpiry : byActivity;
    // One candidate beyond the page says whether a next page exists.
    const selection = new BoundedSelection<CursorPosition>(limit + 1, order);
    await walkSessionDirectory(this.location, {
      session: ({ id, expiresAt, lastSeenAt }) => {
        if (expiresAt <= now) return;
        const position = { score: sort === 'expiry' ? expiresAt : lastSeenAt, id };
        if (!after || order(position, after) > 0) selection.offer(position);
      },
    });
    const candidates = selection.values();
    const onPage = candidates.slice(0, limit);
    const records = await mapConcurrently(onPage, ({ id }) => this.read(id));
    const sessions: SessionSummary[] = [];
    onPage.forEach(({ id }, index) => {
      const record = records[index];
      // Gone or expired since the walk: left out, the page stays in order.
      if (record && record.expiresAt > now) sessions.push(summaryOf(id, record));
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

  async purgeExpired(now: number, batchSize: number): Promise<string[]> {
    const purged: string[] = [];
    let taken = 0;
    await walkSessionDirectory(this.location, {
      session: async ({ id, expiresAt }) => {
        if (expiresAt > now || taken >= batchSize) return;
        taken++;
        // The content decides: a touch may have moved the expiry since the stat. An unreadable file counts as
        // expired. (A request that read the session just before `now` and renames its update between this
        // read and the unlink loses that session: it was at its expiry already.)
        const record = await this.read(id);
        if (record && record.expiresAt > now) return;
        // Only the process whose unlink succeeds reports the id, so each expiry is reported once.
        if (await this.unlinkSession(id)) purged.push(id);
      },
      tempFile: (name, changedAtMs) => this.removeStaleTempFile(name, changedAtMs),
    });
    return purged;
  }

  async evictNearestExpiry(count: number): Promise<string[]> {
    // The contract gives no `now`: "live" is live on this clock, as for Redis and PostgreSQL.
    const now = Date.now();
    const selection = new BoundedSelection<CursorPosition>(count, byExpiry);
    await walkSessionDirectory(this.location, {
      session: ({ id, expiresAt }) => {
        if (expiresAt > now) selection.offer({ score: expiresAt, id });
      },
    });
    const evicted = await mapConcurrently(selection.values(), async ({ id }) => ((await this.unlinkSession(id)) ? id : undefined));
    return evicted.filter((id): id is string => id !== undefined);
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

  async ping(): Promise<void> {
    if (!(await stat(this.location)).isDirectory()) throw new Error(`FileStore: ${this.location} is not a directory`);
    await access(this.location, constants.W_OK);
  }

  async close(): Promise<void> {
    // Nothing to release: the store holds no descriptors or timers between calls.
  }

  /** Only ever called with a validated public id, so the path stays inside the directory. */
  private pathOf(id: string): string {
    return join(this.location, `${id}${SESSION_FILE_SUFFIX}`);
  }

  /** The record in a session file, or undefined when the id is not a public id, the file is missing, or unreadable. */
  private async read(id: string): Promise<SessionRecord | undefined> {
    if (!isWellFormedPublicId(id)) return undefined;
    try {
      return parseSessionFile(await readWithoutTouchingAtime(this.pathOf(id)));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async exists(id: string): Promise<boolean> {
    try {
      await stat(this.pathOf(id));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * Writes a session atomically: temporary file, times as the index hint, fsync, rename.
   * With `stillThere`, writes nothing and returns false when it says the session is gone.
   */
  private async write(id: string, record: SessionRecord, stillThere?: () => Promise<boolean>): Promise<boolean> {
    const tempPath = join(this.location, `${TEMP_FILE_PREFIX}${randomBytes(12).toString('hex')}`);
    try {
      const handle = await open(tempPath, 'wx', 0o600);
      try {
        await handle.writeFile(serialize(record));
        // utimes takes seconds: atime carries lastSeenAt, mtime carries expiresAt.
        await handle.utimes(record.lastSeenAt / 1000, record.expiresAt / 1000);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Checked as late as possible, yet a destroy landing between this check and the rename
      // still brings the session back: POSIX has no "rename only if the target exists".
      if (stillThere && !(await stillThere())) {
        await removeQuietly(tempPath);
        return false;
      }
      await rename(tempPath, this.pathOf(id));
      return true;
    } catch (error) {
      await removeQuietly(tempPath);
      throw error;
    }
  }

  /** Removes a session file; true when this call removed it. */
  private async unlinkSession(id: string): Promise<boolean> {
    try {
      await unlink(this.pathOf(id));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
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

function summaryOf(id: string, { data, createdAt, lastSeenAt, expiresAt }: SessionRecord): SessionSummary {
  return { id, createdAt, lastSeenAt, expiresAt, sizeBytes: dataSizeBytes(data), keys: Object.keys(data) };
}

function serialize({ data, createdAt, lastSeenAt, expiresAt }: SessionRecord): string {
  const stored: StoredSession = { v: FORMAT_VERSION, createdAt, lastSeenAt, expiresAt, data };
  return JSON.stringify(stored);
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
  const { data, createdAt, lastSeenAt, expiresAt } = parsed;
  const timesValid = [createdAt, lastSeenAt, expiresAt].every((time) => Number.isFinite(time));
  if (!timesValid || typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  return { data, createdAt: createdAt!, lastSeenAt: lastSeenAt!, expiresAt: expiresAt! };
}

async function readWithoutTouchingAtime(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | O_NOATIME).catch((error: unknown) => {
    // O_NOATIME is refused (EPERM) on files another user owns: read them plainly.
    if (O_NOATIME && (error as NodeJS.ErrnoException).code === 'EPERM') return open(path, constants.O_RDONLY);
    throw error;
  });
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Cleanup on a path that may not exist; the error that led here is the one worth reporting. */
async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => undefined);
}
