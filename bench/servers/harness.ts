/**
 * What every benchmark server shares: the ~1 KB session payload, where its
 * store namespace is, and how it serves. A server listens on 127.0.0.1 on a
 * free port and is driven over IPC by the orchestrator that forked it (CPU
 * time, memory, sweeps, listing): control traffic never goes over HTTP, so it
 * is never part of what autocannon measures.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where a run's data lives: unique per run, removed by the orchestrator afterwards. */
export interface BenchNamespace {
  redisPrefix: string;
  pgTable: string;
  fileDir: string;
}

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Idle lifetime every case gets, so stores expire sessions alike (30 minutes, sessionkeeper's default). */
export const SESSION_TTL_MS = 30 * 60_000;
/** Cookie-signing secret shared by the cases that sign cookies. */
export const COOKIE_SECRET = 'bench-signing-key-0123456789abcdef';

/** The namespace the orchestrator passed in `BENCH_NAMESPACE`. */
export function benchNamespace(): BenchNamespace {
  const text = process.env.BENCH_NAMESPACE;
  if (!text) throw new Error('BENCH_NAMESPACE is not set: benchmark servers are started by bench/run.ts');
  return JSON.parse(text) as BenchNamespace;
}

/** The peer packages live in bench/node_modules and have no types: loaded untyped, so the root type-check never needs them. */
export const requirePeer = createRequire(import.meta.url) as (name: string) => any;

const PAYLOAD_BYTES = 1024;
const STOP_GRACE_MS = 200;

/**
 * The session every case stores: a user, a cart and a note, about 1 KB as JSON.
 * `version` changes the content (not the size), so every write is a real change.
 */
export function sessionPayload(version: number): Record<string, unknown> {
  const payload = {
    user: { id: 4711, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['reader', 'editor'] },
    cart: [{ sku: 'BK-1843', quantity: 1 }, { sku: 'PN-0042', quantity: 3 }],
    visits: version,
    note: '',
  };
  const fillBytes = PAYLOAD_BYTES - Buffer.byteLength(JSON.stringify(payload)) - 8;
  const letter = String.fromCharCode(97 + (version % 26));
  payload.note = letter.repeat(Math.max(0, fillBytes));
  return payload;
}

/** A control message handler: gets the message, answers with something JSON-serialisable. */
export type Control = (message: Record<string, unknown>) => unknown;

export interface ServeOptions {
  /** Closes what the server opened (store clients, pools). */
  close?: () => Promise<void>;
  /** Extra control messages this server answers, by `type`. */
  controls?: Record<string, Control>;
}

/**
 * Listens on 127.0.0.1 and answers the orchestrator's control messages:
 * `cpu` (process.cpuUsage), `memory` (after a full GC when --expose-gc is on),
 * `profileStart`/`profileStop` (a CPU profile of just the measured window,
 * written where `path` says), `stop`, and the server's own. Exits when the orchestrator goes away, so no
 * server outlives a run.
 */
export async function serve(listener: RequestListener, options: ServeOptions = {}): Promise<void> {
  const server = createServer(listener);
  let profiler: Session | undefined;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    // Handlers of requests cut off above may still be waiting on the store: let them finish before it closes.
    await sleep(STOP_GRACE_MS);
    await options.close?.();
    return { stopped: true };
  };
  const controls: Record<string, Control> = {
    cpu: () => process.cpuUsage(),
    memory: () => {
      const collect = (globalThis as { gc?: () => void }).gc;
      collect?.();
      collect?.();
      return process.memoryUsage();
    },
    profileStart: async () => {
      profiler ??= new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
      return { profiling: true };
    },
    profileStop: async (message) => {
      const { profile } = await profiler!.post('Profiler.stop');
      profiler!.disconnect();
      await writeFile(String(message.path), JSON.stringify(profile));
      return { path: message.path };
    },
    stop,
    ...options.controls,
  };
  process.on('message', async (message: Record<string, unknown>) => {
    const control = controls[String(message.type)];
    try {
      if (!control) throw new Error(`unknown control message ${String(message.type)}`);
      process.send!({ id: message.id, result: await control(message) });
    } catch (error) {
      process.send!({ id: message.id, error: error instanceof Error ? error.stack ?? error.message : String(error) });
    }
    if (message.type === 'stop') process.disconnect();
  });
  process.on('disconnect', () => process.exit(0));
  const address = server.address();
  process.send!({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
}
