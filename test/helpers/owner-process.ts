/**
 * Owner apps (`owner-app.ts`) in a child process of their own, for tests of
 * owners across real processes: several apps per process, each a
 * sessionkeeper on its own namespace with the test settings (as environment
 * variables), each on its own port. Every log line comes back parsed and
 * sorted by app; the requests parked on `GET /slow` are reported and released
 * per app.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { LogLine } from './log-capture.ts';
import type { OwnerChildCommand, OwnerChildReport } from './owner-app-child.ts';
import type { StoreNamespace } from './store-fixtures.ts';
import { testServerEnv } from './test-settings.ts';
import { waitUntil } from './wait.ts';

const CHILD = fileURLToPath(new URL('./owner-app-child.ts', import.meta.url));
/** tsx's loader by absolute URL, as the other child-process tests use it. */
const TSX_LOADER = import.meta.resolve('tsx');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** One app of the process: where its sessions live, and its settings over the test defaults. */
export interface OwnerAppSpec {
  namespace: StoreNamespace;
  env?: Record<string, string>;
}

export interface OwnerProcess {
  /** `http://127.0.0.1:<port>` of each app, by name. */
  url(app: string): string;
  /** The log lines of one app so far (lifecycle lines have `msg` = `event`). */
  logs(app: string): LogLine[];
  /** The public ids of the requests of one app parked on `GET /slow` so far (null: an anonymous request). */
  parked(app: string): (string | null)[];
  /** Lets every request of `app` parked on `GET /slow` go on. */
  release(app: string): void;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a process running one owner app per entry of `apps`, and waits until every one listens. */
export async function startOwnerProcess(apps: Record<string, OwnerAppSpec>): Promise<OwnerProcess> {
  const settings = Object.fromEntries(
    Object.entries(apps).map(([name, { namespace, env }]) => [name, { LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...testServerEnv(namespace, env) }]),
  );
  const child = fork(CHILD, [], {
    execArgv: ['--import', TSX_LOADER],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', OWNER_APPS: JSON.stringify(settings) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const exited = once(child, 'exit').then(() => undefined);
  const ports = new Map<string, number>();
  const logs = new Map<string, LogLine[]>(Object.keys(apps).map((name) => [name, []]));
  const parked = new Map<string, (string | null)[]>(Object.keys(apps).map((name) => [name, []]));
  let stderr = '';
  let partial = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const text of lines) {
      if (!text.trim()) continue;
      const line = JSON.parse(text) as LogLine;
      logs.get(line.ownerApp as string)?.push(line);
      if (line.msg === 'owner app listening') ports.set(line.ownerApp as string, line.port as number);
    }
  });
  child.on('message', (report: OwnerChildReport) => parked.get(report.app)?.push(report.parked));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  const started = () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the owner process exited (${child.exitCode ?? child.signalCode}) before listening`);
    return ports.size === Object.keys(apps).length;
  };
  try {
    await waitUntil('every owner app listening', started, START_TIMEOUT_MS);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  const known = <T>(map: Map<string, T>, app: string): T => {
    const value = map.get(app);
    if (value === undefined) throw new Error(`no owner app named ${app}`);
    return value;
  };
  return {
    url: (app) => `http://127.0.0.1:${known(ports, app)}`,
    logs: (app) => known(logs, app),
    parked: (app) => known(parked, app),
    release: (app) => child.send({ release: app } satisfies OwnerChildCommand),
    stop,
  };
}
