/**
 * Which session files a file store touches while a task runs: the `node:fs`
 * calls it reads sessions with (`openSync` to read one, `lstatSync` for its
 * times, `opendir` to walk the directory) are wrapped for the task's
 * duration. The store imports them by name; `syncBuiltinESMExports` makes
 * those imports see the wrappers, and the originals are put back afterwards.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, dirname, resolve } from 'node:path';
import { SESSION_FILE_SUFFIX } from '../../middleware/stores/file-index.ts';

export interface FileTouches {
  /** Ids of the session files opened (read), and of those `lstat`ed. */
  opened: Set<string>;
  statted: Set<string>;
  /** Calls, counting repeats. */
  opens: number;
  stats: number;
  /** Walks of the whole session directory (`opendir` of it). */
  directoryWalks: number;
}

/** Runs `task` and reports what it touched of the sessions in `dir`. Not reentrant: one task at a time. */
export async function fileTouches<T>(dir: string, task: () => Promise<T>): Promise<{ result: T; touches: FileTouches }> {
  const root = resolve(dir);
  const touches: FileTouches = { opened: new Set(), statted: new Set(), opens: 0, stats: 0, directoryWalks: 0 };
  const sessionIdOf = (path: unknown) => {
    const full = resolve(String(path));
    return dirname(full) === root && full.endsWith(SESSION_FILE_SUFFIX) ? basename(full, SESSION_FILE_SUFFIX) : undefined;
  };
  const { openSync, lstatSync } = fs;
  const { opendir } = fs.promises;
  // lstatSync is typed read-only; the module object takes the assignment all the same.
  Object.assign(fs, {
    openSync: (path: fs.PathLike, ...rest: unknown[]) => {
      const id = sessionIdOf(path);
      if (id !== undefined) {
        touches.opens++;
        touches.opened.add(id);
      }
      return (openSync as (...args: unknown[]) => number)(path, ...rest);
    },
    lstatSync: (path: fs.PathLike, ...rest: unknown[]) => {
      const id = sessionIdOf(path);
      if (id !== undefined) {
        touches.stats++;
        touches.statted.add(id);
      }
      return (lstatSync as (...args: unknown[]) => unknown)(path, ...rest);
    },
  });
  fs.promises.opendir = ((path: fs.PathLike, ...rest: unknown[]) => {
    if (resolve(String(path)) === root) touches.directoryWalks++;
    return (opendir as (...args: unknown[]) => Promise<fs.Dir>)(path, ...rest);
  }) as typeof fs.promises.opendir;
  syncBuiltinESMExports();
  try {
    return { result: await task(), touches };
  } finally {
    Object.assign(fs, { openSync, lstatSync });
    fs.promises.opendir = opendir;
    syncBuiltinESMExports();
  }
}
