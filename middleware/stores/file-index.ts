/**
 * The file store's index: a walk of the session directory that learns each
 * session's expiry and last activity from `stat` alone (the store keeps them in
 * a file's mtime and atime), and a bounded selection that keeps only the best
 * few entries of a walk. Nothing here reads a file's content.
 */
import { lstatSync, type Dirent } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { sep } from 'node:path';
import { isWellFormedPublicId } from '../ids.ts';

/** Suffix of session files: `<public id>.json`. */
export const SESSION_FILE_SUFFIX = '.json';
/** Prefix of the temporary files of atomic writes; never a public id, so never taken for a session. */
export const TEMP_FILE_PREFIX = '.tmp-';
/** Entries per directory read. */
const DIRECTORY_READ_SIZE = 1024;
/** How many reads or unlinks run at once: enough to keep the thread pool busy, few file descriptors. */
const IO_CONCURRENCY = 64;

/** What `stat` tells of one session file. The content stays authoritative: verify before acting. */
export interface SessionFileHint {
  id: string;
  /** The file's mtime, which the store sets to the session's expiry (ms). */
  expiresAt: number;
  /** The file's atime, which the store sets to the session's last activity (ms). */
  lastSeenAt: number;
}

export interface DirectoryVisitor {
  /** Called for every regular file named `<public id>.json`; the walk waits for what it returns. */
  session(hint: SessionFileHint): void | Promise<void>;
  /** Called for every temporary file, with its ctime (ms); omit it to skip temporary files. */
  tempFile?(name: string, changedAtMs: number): void | Promise<void>;
}

/** The public id a directory entry stands for, or undefined for temporary and foreign files. */
function sessionIdOfFileName(name: string): string | undefined {
  if (!name.endsWith(SESSION_FILE_SUFFIX)) return undefined;
  const id = name.slice(0, -SESSION_FILE_SUFFIX.length);
  return isWellFormedPublicId(id) ? id : undefined;
}

/** One entry of a walk: a session file with what `stat` tells of it, or a temporary file with its ctime (ms). */
export type WalkEntry = { kind: 'session'; hint: SessionFileHint } | { kind: 'temp'; name: string; changedAtMs: number };

/**
 * A walk of the session directory with `opendir` and `lstat` (never reading contents) that its caller can
 * stop between entries and resume later, as the sweep does across its batches.
 * `lstat` is synchronous: on a cached directory it costs a few µs against ~15 µs through the thread
 * pool, which is what keeps a 100,000-file walk under a second. The walk still yields to the event
 * loop at every directory read, that is every DIRECTORY_READ_SIZE entries.
 */
export class SessionDirectoryWalk {
  private constructor(
    private readonly dir: string,
    private readonly entries: AsyncIterator<Dirent>,
    private readonly withTempFiles: boolean,
  ) {}

  /** Opens a walk of `dir`; `withTempFiles` also yields the temporary files of atomic writes. */
  static async open(dir: string, withTempFiles: boolean): Promise<SessionDirectoryWalk> {
    const handle = await opendir(dir, { bufferSize: DIRECTORY_READ_SIZE });
    return new SessionDirectoryWalk(dir, handle[Symbol.asyncIterator](), withTempFiles);
  }

  /** The next session (or temporary) file, or undefined once the walk is over (the directory is then closed). */
  async next(): Promise<WalkEntry | undefined> {
    for (;;) {
      const { value: entry, done } = await this.entries.next();
      if (done) return undefined;
      const id = sessionIdOfFileName(entry.name);
      const isTempFile = !id && this.withTempFiles && entry.name.startsWith(TEMP_FILE_PREFIX);
      if (!id && !isTempFile) continue;
      // lstat, so a symlink is never taken for a session; a file removed since the directory read is
      // skipped. A plain concatenation: path.join's normalising costs a tenth of the walk here.
      const stats = lstatSync(`${this.dir}${sep}${entry.name}`, { throwIfNoEntry: false });
      if (!stats?.isFile()) continue;
      // utimes stores seconds as a double: round off the sub-millisecond noise.
      if (id) return { kind: 'session', hint: { id, expiresAt: Math.round(stats.mtimeMs), lastSeenAt: Math.round(stats.atimeMs) } };
      return { kind: 'temp', name: entry.name, changedAtMs: stats.ctimeMs };
    }
  }

  /** Ends a walk before its end, closing the directory. */
  async close(): Promise<void> {
    await this.entries.return?.();
  }
}

/** Walks `dir` to its end, calling the visitor for each file, at most IO_CONCURRENCY visits pending at once. */
export async function walkSessionDirectory(dir: string, visitor: DirectoryVisitor): Promise<void> {
  const walk = await SessionDirectoryWalk.open(dir, visitor.tempFile !== undefined);
  let pending: Promise<void>[] = [];
  for (let entry = await walk.next(); entry; entry = await walk.next()) {
    const visited = entry.kind === 'session' ? visitor.session(entry.hint) : visitor.tempFile?.(entry.name, entry.changedAtMs);
    if (visited) pending.push(visited);
    if (pending.length === IO_CONCURRENCY) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
}

/** Runs `task` over `items`, at most IO_CONCURRENCY at a time (file descriptors are finite), results in order. */
export async function mapConcurrently<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += IO_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(start, start + IO_CONCURRENCY).map(task))));
  }
  return results;
}

/**
 * Keeps the `capacity` lowest values offered (by `compare`), in order, without
 * holding the others: a sorted array that never grows past `capacity`.
 */
export class BoundedSelection<T> {
  private readonly kept: T[] = [];

  constructor(
    private readonly capacity: number,
    private readonly compare: (a: T, b: T) => number,
  ) {}

  offer(value: T): void {
    const { kept, capacity, compare } = this;
    if (capacity <= 0) return;
    if (kept.length === capacity && compare(value, kept[kept.length - 1]!) >= 0) return;
    let low = 0;
    let high = kept.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compare(kept[middle]!, value) <= 0) low = middle + 1;
      else high = middle;
    }
    kept.splice(low, 0, value);
    if (kept.length > capacity) kept.pop();
  }

  /** The kept values, lowest first. */
  values(): readonly T[] {
    return this.kept;
  }
}
