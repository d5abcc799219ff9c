/**
 * One benchmark server in its own child process: forked with tsx, listening on
 * 127.0.0.1, spoken to over IPC (see servers/harness.ts). Stopping is bounded:
 * a server that does not stop in time is killed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchNamespace } from '../servers/harness.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVERS_DIR = fileURLToPath(new URL('../servers/', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface StartOptions {
  /** Extra node flags (`--expose-gc`, `--cpu-prof`, …). */
  nodeFlags?: string[];
  /** Extra environment variables (`SESSIONKEEPER_LIB`: the compiled library the server runs). */
  env?: Record<string, string>;
}

export class ServerProcess {
  #nextId = 0;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly #exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess, readonly port: number) {
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (message: { id?: number; result?: unknown; error?: string }) => {
      const pending = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id!);
      if (message.error) pending.reject(new Error(message.error));
      else pending.resolve(message.result);
    });
    void this.#exited.then(() => {
      for (const { reject } of this.#pending.values()) reject(new Error('the benchmark server exited'));
      this.#pending.clear();
    });
  }

  /** Forks `servers/<file>` with `args` and waits until it listens. */
  static start(file: string, args: string[], namespace: BenchNamespace, options: StartOptions = {}): Promise<ServerProcess> {
    const child = fork(`${SERVERS_DIR}${file}`, args, {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx', ...(options.nodeFlags ?? [])],
      env: { ...process.env, ...options.env, BENCH_NAMESPACE: JSON.stringify(namespace) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${file} did not start within ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${file} ${args.join(' ')} exited with code ${code} before listening`));
      });
      child.on('message', function onReady(message: { type?: string; port?: number }) {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        child.off('message', onReady);
        child.removeAllListeners('exit');
        resolve(new ServerProcess(child, message.port!));
      });
    });
  }

  /** Sends a control message and waits for its answer, at most `timeoutMs`. */
  request<T>(type: string, fields: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ id, type, ...fields });
    });
  }

  /** CPU time the server process has used so far, in µs. */
  async cpuMicros(): Promise<number> {
    const usage = await this.request<NodeJS.CpuUsage>('cpu');
    return usage.user + usage.system;
  }

  /** Asks the server to close what it opened and exit; kills it when that takes too long. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.request('stop', {}, STOP_TIMEOUT_MS).catch(() => this.child.kill('SIGKILL'));
    const exited = await Promise.race([this.#exited, new Promise((resolve) => setTimeout(() => resolve('late'), STOP_TIMEOUT_MS))]);
    if (exited === 'late') this.child.kill('SIGKILL');
  }

  /** Ends the server at once (a sweep that overran its budget, say). */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.#exited;
  }
}
