/**
 * The library the benchmark servers run: this checkout's package compiled to
 * `dist/` (what an app that installs sessionkeeper runs, without tsx's
 * transform), and for the `baseline` cases an earlier commit checked out
 * beside it (`git worktree`), sharing the installed packages, compiled the
 * same way. The servers load it from `SESSIONKEEPER_LIB` (see
 * `servers/library.ts`), so both run in the same rounds on the same harness.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './server-process.ts';

const run = promisify(execFile);

export interface BaselineCheckout {
  /** The full commit id checked out. */
  commit: string;
  /** Its compiled library: the `dist` directory the servers load. */
  library: string;
  remove(): Promise<void>;
}

/** Compiles the package in `root` into `<root>/dist` (its own build script) and returns that directory. */
export async function buildLibrary(root: string, progress: (line: string) => void): Promise<string> {
  const started = performance.now();
  await run(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
  progress(`compiled ${root} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return join(root, 'dist');
}

/** Checks out and compiles `rev` in a temporary directory; `remove()` deletes it and its worktree entry. */
export async function checkOutBaseline(rev: string, progress: (line: string) => void): Promise<BaselineCheckout> {
  const git = (...args: string[]) => run('git', ['-C', REPO_ROOT, ...args]);
  const commit = (await git('rev-parse', '--verify', `${rev}^{commit}`)).stdout.trim();
  const root = join(await mkdtemp(join(tmpdir(), 'skbench-baseline-')), 'checkout');
  await git('worktree', 'add', '--detach', root, commit);
  const remove = async () => {
    await git('worktree', 'remove', '--force', root).catch(() => undefined);
    await rm(join(root, '..'), { recursive: true, force: true });
  };
  try {
    // Same dependencies as this checkout: the comparison is between sessionkeeper's own code.
    await symlink(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
    const library = await buildLibrary(root, progress);
    progress(`baseline ${commit.slice(0, 7)} compiled at ${library}`);
    return { commit, library, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
