/**
 * The file store's owner index: which sessions each owner has, without a walk
 * of every session. Two entries per owned session, beside the session files:
 *
 * - `.owners/<digest>/<id>`, an empty marker in a directory per owner (the
 *   digest is the SHA-256 of the owner: an owner never becomes part of a path
 *   as it is), so an owner's sessions are one directory read away;
 * - `.owned/<id>`, a symbolic link whose target is that digest, so removing a
 *   session finds its marker with one `readlink` and reads nothing else.
 *
 * The session file stays authoritative and the index only ever holds more than
 * the live sessions, never less: the marker is made (and its directory synced)
 * before the session file, and removed after it. A marker whose session is gone
 * (a crash between the two steps) is skipped by every reader and removed by the
 * next reader that meets it once it is a minute old (a younger one may belong to
 * a creation between its two steps). Leading dots keep both directories out
 * of every session walk.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, lstatSync, mkdirSync, open, openSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isWellFormedPublicId } from '../ids.ts';
import { ownerDigest } from '../store.ts';

const OWNERS_DIR = '.owners';
const OWNED_DIR = '.owned';
/** A directory of an owner can vanish between its mkdir and the marker (the last marker's removal takes it away): try again. */
const LINK_ATTEMPTS = 5;
/** A marker without its session file for this long was left by a creation or removal that crashed halfway. */
const STALE_MARKER_MS = 60_000;

/** One owned session as the index and `lstat` tell it: the session file's expiry (mtime) and last activity (atime). */
export interface OwnedSessionHint {
  id: string;
  expiresAt: number;
  lastSeenAt: number;
}

export class FileOwnerIndex {
  private readonly ownersDir: string;
  private readonly ownedDir: string;

  constructor(dir: string, private readonly sessionPath: (id: string) => string) {
    this.ownersDir = join(dir, OWNERS_DIR);
    this.ownedDir = join(dir, OWNED_DIR);
  }

  /** The lock file that capped creations for `owner` take turns on (see FileStore.create). */
  lockPathOf(owner: string): string {
    mkdirSync(this.ownersDir, { recursive: true, mode: 0o700 });
    return join(this.ownersDir, `${ownerDigest(owner)}.lock`);
  }

  /**
   * Indexes session `id` under `owner`, durably (the owner's directory is synced), before its file is
   * written. Replaces whatever the index said of `id` before.
   */
  async link(id: string, owner: string): Promise<void> {
    const digest = ownerDigest(owner);
    const ownerDir = join(this.ownersDir, digest);
    this.unlink(id, digest);
    for (let attempt = 1; ; attempt++) {
      try {
        mkdirSync(ownerDir, { recursive: true, mode: 0o700 });
        closeSync(openSync(join(ownerDir, id), 'w', 0o600));
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === LINK_ATTEMPTS) throw error;
      }
    }
    mkdirSync(this.ownedDir, { recursive: true, mode: 0o700 });
    // A link made under a temporary name and renamed into place: two processes linking one id at once (two
    // moves of one session) each replace the link whole, where unlink-then-symlink could see the other's.
    const temporary = join(this.ownedDir, `.${id}.${process.pid}.${randomBytes(4).toString('hex')}`);
    symlinkSync(digest, temporary);
    renameSync(temporary, join(this.ownedDir, id));
    await syncDirectory(ownerDir);
  }

  /** The digest of the owner that `id` is indexed under, or undefined for a session without an owner. */
  linkedDigest(id: string): string | undefined {
    try {
      return readlinkSync(join(this.ownedDir, id));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Removes `id` from the index (after its session file is gone). With `keepDigest`, a marker under that
   * owner is kept: the caller is about to link the id there again. `digest`: what `linkedDigest` said, when
   * the caller asked already.
   */
  unlink(id: string, keepDigest?: string, digest = this.linkedDigest(id)): void {
    if (digest === undefined || digest === keepDigest) return;
    this.removeMarker(digest, id);
    removeIfThere(join(this.ownedDir, id));
  }

  /** Removes `id` from the index of the owner with this digest, whatever `.owned` says. */
  unlinkFrom(owner: string, id: string): void {
    const digest = ownerDigest(owner);
    this.removeMarker(digest, id);
    if (this.linkedDigest(id) === digest) removeIfThere(join(this.ownedDir, id));
  }

  /**
   * The sessions indexed under `owner` that are live at `now`, by `lstat` of their files (a marker whose
   * session is gone is removed on the way). Reads the owner's directory and nothing else of the store.
   */
  async liveSessionsOf(owner: string, now: number): Promise<OwnedSessionHint[]> {
    const digest = ownerDigest(owner);
    let names: string[];
    try {
      names = await readdir(join(this.ownersDir, digest));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const live: OwnedSessionHint[] = [];
    for (const id of names) {
      if (!isWellFormedPublicId(id)) continue;
      const stats = lstatSync(this.sessionPath(id), { throwIfNoEntry: false });
      if (!stats?.isFile()) {
        this.#removeIfStale(digest, id);
        continue;
      }
      const expiresAt = Math.round(stats.mtimeMs);
      if (expiresAt > now) live.push({ id, expiresAt, lastSeenAt: Math.round(stats.atimeMs) });
    }
    return live;
  }

  /**
   * Removes a marker whose session file is missing, once it is old enough that no creation can still be
   * between its two steps (marker, then file): a young one may be a session about to be written.
   */
  #removeIfStale(digest: string, id: string): void {
    const marker = lstatSync(join(this.ownersDir, digest, id), { throwIfNoEntry: false });
    if (!marker || marker.mtimeMs > Date.now() - STALE_MARKER_MS) return;
    this.removeMarker(digest, id);
    if (this.linkedDigest(id) === digest) removeIfThere(join(this.ownedDir, id));
  }

  /** Removes a marker, and its owner's directory once it is empty (a later link makes it again). */
  private removeMarker(digest: string, id: string): void {
    const ownerDir = join(this.ownersDir, digest);
    removeIfThere(join(ownerDir, id));
    try {
      rmdirSync(ownerDir);
    } catch {
      // not empty, or gone: either way nothing to do
    }
  }
}

function removeIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** fsync of a directory, through the thread pool: its new entries survive a crash. */
async function syncDirectory(path: string): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => open(path, 'r', (error, opened) => (error ? reject(error) : resolve(opened))));
  try {
    await new Promise<void>((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
  } finally {
    closeSync(fd);
  }
}
