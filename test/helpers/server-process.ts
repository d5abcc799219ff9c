/**
 * The reference app in a child process of its own, for tests that kill a
 * server, run several servers on one store, or measure a server's memory
 * without the load generator's. It runs on a namespace with the test
 * settings (`test-settings.ts`), as environment variables, the ones the
 * README names; every log line comes back parsed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { LogLine } from './log-capture.ts';
import type { StoreNamespace } from './store-fixtures.ts';
import { testServerEnv } from './test-settings.ts';

const CHILD = fileURLToPath(new URL('./server-child.ts', import.meta.url));
/** tsx's loader by absolute URL, as main-process.test.ts does. */
const TSX_LOADER = import.meta.resolve('tsx');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface ServerProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every log line so far. */
  logs: LogLine[];
  /** Memory use of the child after a forced garbage collection. */
  memory(): Promise<NodeJS.MemoryUsage>;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL now; resolves when it has exited. */
  kill(): Promise<void>;
}

/**
 * Starts the app in a child process on `namespace`, with the test settings and
 * `env` over them (beside PATH and HOME), and waits until it listens.
 */
export async function startServerProcess(namespace: StoreNamespace, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = fork(CHILD, [], {
    execArgv: ['--import', TSX_LOADER, '--expose-gc'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...testServerEnv(namespace, env) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const exited = once(child, 'exit').then(() => undefined);
  const logs: LogLine[] = [];
  let stderr = '';
  let partial = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not listen within ${START_TIMEOUT_MS} ms: ${stderr}`)), START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const text of lines) {
        if (!text.trim()) continue;
        const line = JSON.parse(text) as LogLine;
        logs.push(line);
        if (line.msg === 'test server listening') {
          clearTimeout(timer);
          resolve(line.port as number);
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });

  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  let listeningPort: number;
  try {
    listeningPort = await port;
  } catch (err) {
    await kill();
    throw err;
  }
  return {
    child,
    url: `http://127.0.0.1:${listeningPort}`,
    logs,
    memory: async () => {
      const answer = once(child, 'message') as Promise<[{ memory: NodeJS.MemoryUsage }]>;
      child.send('memory');
      return (await answer)[0].memory;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
    kill,
  };
}
