/**
 * The operator CLI as operators run it: `cli/main.ts` in a child process of
 * its own (node with tsx's loader), with only the environment a test gives
 * it beside PATH and HOME. Runs to completion (`runCli`), or keeps running
 * (`startCli`: `events --follow`, `dashboard`) with its output read line by line.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../helpers/wait.ts';

const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
/** tsx's loader by absolute URL, as the other child-process tests use it. */
const TSX_LOADER = import.meta.resolve('tsx');
/** No command may take this long; a hung CLI fails its test instead of hanging the suite. */
const RUN_TIMEOUT_MS = 20_000;

/** What the shell finds; no sessionkeeper setting of the test run leaks in. */
function environment(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env };
}

/** How one run ended. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
}

/** Runs `sessionkeeper <args>` to its end; a run longer than `timeoutMs` is killed (status null). */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = RUN_TIMEOUT_MS): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TSX_LOADER, MAIN, ...args], { env: environment(env), timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const status = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ status: typeof status === 'number' ? status : null, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** The lines of stdout (empty lines dropped), each JSON-parsed. */
export function jsonLines<T = Record<string, unknown>>(stdout: string): T[] {
  return stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as T);
}

/** A CLI that keeps running until told to stop. */
export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Waits until stdout (or stderr) matches; fails after `timeoutMs` with what was written. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends `signal` and resolves with the exit status (SIGKILL after 10 s: the test then fails on the status). */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

export function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, ...args], { env: environment(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const text = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text.stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    async waitFor(stream, pattern, timeoutMs = 15_000) {
      let match: RegExpExecArray | null = null;
      await waitUntil(
        `${stream} matching ${pattern} (stdout: ${JSON.stringify(text.stdout)}, stderr: ${JSON.stringify(text.stderr)})`,
        () => {
          if (child.exitCode !== null) throw new Error(`the CLI exited (${child.exitCode}) first; stdout: ${text.stdout}\nstderr: ${text.stderr}`);
          match = pattern.exec(text[stream]);
          return match !== null;
        },
        timeoutMs,
        20,
      );
      return match!;
    },
    async stop(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
  };
}
