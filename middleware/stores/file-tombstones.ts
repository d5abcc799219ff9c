/**
 * Tombstones of the file store: `.ended/<id>`, touched just before a session
 * is removed, so that a write racing the removal from another process undoes
 * itself. POSIX has no "rename only if the target still exists": a writer checks
 * that the session is there, then renames its new version into place, and a
 * process sharing the directory can remove the session between the two. The
 * writer looks for a tombstone after its rename; one touched since the version
 * it checked came into being means the session was ended meanwhile, and the
 * writer removes what it wrote. A tombstone is only needed while a write can
 * still be in flight, so the purge removes those older than a minute.
 */
import { closeSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const TOMBSTONES_DIR = '.ended';
/** Far longer than a write takes from its check to its rename, even one its caller stopped waiting for. */
const TOMBSTONE_LIFETIME_MS = 60_000;

export class FileTombstones {
  private readonly dir: string;

  constructor(sessionDir: string) {
    this.dir = join(sessionDir, TOMBSTONES_DIR);
  }

  /** Marks `id` as being ended now (before its file is removed). */
  touch(id: string): void {
    const path = join(this.dir, id);
    try {
      closeSync(openSync(path, 'w', 0o600));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'w', 0o600));
    }
  }

  /** True when `id` was marked as ended at or after `sinceMs` (a file's ctime: when the version a writer checked appeared). */
  endedSince(id: string, sinceMs: number): boolean {
    const stats = lstatSync(join(this.dir, id), { throwIfNoEntry: false });
    return stats !== undefined && stats.mtimeMs >= sinceMs;
  }

  /**
   * Takes back a write that found a tombstone: its file is moved to `<id>.undone` beside the tombstone rather
   * than deleted, so that the removal whose unlink it beat can still claim the ending (`claimTakenBack`). A
   * file the removal unlinked already is not there to move: nothing to do.
   */
  takeBack(id: string, sessionPath: string): void {
    try {
      renameSync(sessionPath, join(this.dir, `${id}.undone`));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /**
   * True when a write racing this removal took its session back before the removal's unlink (which then
   * found nothing): the removal claims it, by removing the moved file, so that exactly one caller reports it.
   */
  claimTakenBack(id: string): boolean {
    try {
      unlinkSync(join(this.dir, `${id}.undone`));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** Removes the tombstones (and taken-back writes nobody claimed) no write can still need. */
  async removeOld(now: number): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const name of names) {
      const path = join(this.dir, name);
      const stats = lstatSync(path, { throwIfNoEntry: false });
      if (stats && stats.mtimeMs < now - TOMBSTONE_LIFETIME_MS) {
        try {
          unlinkSync(path);
        } catch {
          // removed by another process's purge meanwhile
        }
      }
    }
  }
}
