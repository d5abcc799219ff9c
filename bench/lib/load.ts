/**
 * Load: a pool of existing sessions made through the server's own `POST /new`,
 * and autocannon runs over 127.0.0.1 in which every connection cycles through
 * its own share of the pool (so each request of a read or write run lands on
 * an existing session, and no two connections share one), or sends no cookie
 * at all for `new`. Latencies are recorded per response at µs precision.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { percentile } from './stats.ts';

export type Scenario = 'read' | 'write' | 'new';

const autocannon = createRequire(import.meta.url)('autocannon') as (options: Record<string, unknown>) => AutocannonInstance;

interface AutocannonClient {
  setHeaders(headers: Record<string, string>): void;
  on(event: 'response', listener: (status: number, bytes: number, durationMs: number) => void): void;
}
interface AutocannonResult {
  requests: { total: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
interface AutocannonInstance extends Promise<AutocannonResult> {
  stop(): void;
}

export const CONNECTIONS = 20;
const POOL_CONCURRENCY = 20;
const ROUTES: Record<Scenario, { method: string; path: string }> = {
  read: { method: 'GET', path: '/read' },
  write: { method: 'POST', path: '/write' },
  new: { method: 'POST', path: '/new' },
};

export interface LoadResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers, connection errors and timeouts: a correct run has none. */
  errors: number;
}

/**
 * Creates `size` sessions through `POST /new` and returns the Cookie header of each. With `ownerOf`, through
 * `POST /sign-in?owner=<ownerOf(index)>` instead (servers started with `sign-in`): sessions with an owner.
 */
export async function createSessionPool(port: number, size: number, ownerOf?: (index: number) => string): Promise<string[]> {
  const cookies: string[] = [];
  let next = 0;
  const createOne = async () => {
    const path = ownerOf ? `/sign-in?owner=${encodeURIComponent(ownerOf(next++))}` : '/new';
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' });
    await response.arrayBuffer();
    const pairs = response.headers.getSetCookie().map((header) => header.split(';')[0]);
    if (!response.ok || pairs.length === 0) throw new Error(`POST ${path} answered ${response.status} without a cookie`);
    cookies.push(pairs.join('; '));
  };
  for (let made = 0; made < size; made += POOL_CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(POOL_CONCURRENCY, size - made) }, createOne));
  }
  return cookies;
}

/** For the ceiling, which has no sessions: cookies of the usual size, so its requests weigh the same. */
export function placeholderCookies(count: number): string[] {
  return Array.from({ length: count }, () => `sid=${randomBytes(32).toString('base64url')}; sid.sig=${randomBytes(20).toString('base64url')}`);
}

export interface DriveOptions {
  scenario: Scenario;
  /** Cookie headers of existing sessions; required for read and write. */
  cookies?: string[];
  durationSeconds: number;
}

/** A run in progress: `stop()` ends it early; `done` has its result. */
export interface RunningLoad {
  stop(): void;
  done: Promise<LoadResult>;
}

/** Starts an autocannon run of one scenario against the server on `port`. */
export function startLoad(port: number, { scenario, cookies = [], durationSeconds }: DriveOptions): RunningLoad {
  if (scenario !== 'new' && cookies.length < CONNECTIONS) throw new Error(`a ${scenario} run needs at least ${CONNECTIONS} sessions`);
  const latenciesMs: number[] = [];
  let nextConnection = 0;
  const { method, path } = ROUTES[scenario];
  const instance = autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    method,
    connections: CONNECTIONS,
    duration: durationSeconds,
    setupClient(client: AutocannonClient) {
      client.on('response', (_status, _bytes, durationMs) => latenciesMs.push(durationMs));
      if (scenario === 'new') return;
      const mine = cookies.filter((_, index) => index % CONNECTIONS === nextConnection % CONNECTIONS);
      nextConnection++;
      let turn = 0;
      client.setHeaders({ cookie: mine[0]! });
      // 'response' fires before the connection sends its next request: each request takes the next session.
      client.on('response', () => {
        turn = (turn + 1) % mine.length;
        client.setHeaders({ cookie: mine[turn]! });
      });
    },
  });
  const done = instance.then((result) => {
    const seconds = result.duration;
    const requests = result.requests.total;
    latenciesMs.sort((a, b) => a - b);
    return {
      requests,
      seconds,
      requestsPerSecond: requests / seconds,
      p50Ms: percentile(latenciesMs, 0.5),
      p99Ms: percentile(latenciesMs, 0.99),
      errors: result.non2xx + result.errors + result.timeouts,
    };
  });
  return { stop: () => instance.stop(), done };
}

/** Runs one scenario for its whole duration. */
export function drive(port: number, options: DriveOptions): Promise<LoadResult> {
  return startLoad(port, options).done;
}
