import { open, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A lock older than this was left by a process that died holding it. */
const STALE_LOCK_MS = 30_000;
const RETRY_MS = 20;
const GIVE_UP_MS = 10_000;

/**
 * Runs `work` while holding a lock file that every process sharing the
 * directory respects: created with O_EXCL, removed afterwards. A lock left by
 * a crashed process is taken over once it is STALE_LOCK_MS old.
 */
export async function withLockFile<T>(path: string, work: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + GIVE_UP_MS;
  for (;;) {
    try {
      await (await open(path, 'wx', 0o600)).close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await isStale(path)) await unlink(path).catch(() => undefined);
      else if (Date.now() > giveUpAt) throw new Error(`lock ${path} is still held after ${GIVE_UP_MS} ms`);
      else await sleep(RETRY_MS);
    }
  }
  try {
    return await work();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

async function isStale(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false; // gone meanwhile: the next attempt takes it
  }
}
