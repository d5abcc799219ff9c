/**
 * The cases of the throughput benchmark: the bare-Koa ceiling, sessionkeeper
 * on each store, the peers people use today, and per store the physical floor
 * of a session read. Beside them, sessionkeeper on each store with its events
 * kept in this process's memory instead of the store's shared log: only
 * compared with sessionkeeper itself, to price the shared log per request.
 */
import type { StoreKind } from '../../middleware/store.ts';
import type { Scenario } from './load.ts';

export type CaseFamily = 'ceiling' | 'sessionkeeper' | 'touch-every-request' | 'baseline' | 'events-in-memory' | 'peer' | 'limit';

export interface BenchCase {
  /** Row label in the tables. */
  name: string;
  family: CaseFamily;
  /** Backend the case keeps sessions in (none for the ceiling). */
  backend?: StoreKind;
  /** File under bench/servers/ and its arguments. */
  server: string;
  args: string[];
  scenarios: readonly Scenario[];
  /** `baseline`: the server runs the library compiled from an earlier commit (`--baseline <rev>`), not this one. */
  fromBaseline?: boolean;
}

const ALL: readonly Scenario[] = ['read', 'write', 'new'];

export const CASES: readonly BenchCase[] = [
  { name: 'bare Koa (no session)', family: 'ceiling', server: 'bare.ts', args: [], scenarios: ALL },
  { name: 'sessionkeeper · redis', family: 'sessionkeeper', backend: 'redis', server: 'sessionkeeper.ts', args: ['redis'], scenarios: ALL },
  { name: 'sessionkeeper · redis · events in memory', family: 'events-in-memory', backend: 'redis', server: 'sessionkeeper.ts', args: ['redis', 'events-in-memory'], scenarios: ALL },
  { name: 'sessionkeeper · postgres', family: 'sessionkeeper', backend: 'postgres', server: 'sessionkeeper.ts', args: ['postgres'], scenarios: ALL },
  { name: 'sessionkeeper · postgres · events in memory', family: 'events-in-memory', backend: 'postgres', server: 'sessionkeeper.ts', args: ['postgres', 'events-in-memory'], scenarios: ALL },
  { name: 'sessionkeeper · file', family: 'sessionkeeper', backend: 'file', server: 'sessionkeeper.ts', args: ['file'], scenarios: ALL },
  { name: 'sessionkeeper · file · events in memory', family: 'events-in-memory', backend: 'file', server: 'sessionkeeper.ts', args: ['file', 'events-in-memory'], scenarios: ALL },
  { name: 'sessionkeeper · redis · touch every request', family: 'touch-every-request', backend: 'redis', server: 'sessionkeeper.ts', args: ['redis', 'touch-every-request'], scenarios: ALL },
  { name: 'sessionkeeper · postgres · touch every request', family: 'touch-every-request', backend: 'postgres', server: 'sessionkeeper.ts', args: ['postgres', 'touch-every-request'], scenarios: ALL },
  { name: 'sessionkeeper · file · touch every request', family: 'touch-every-request', backend: 'file', server: 'sessionkeeper.ts', args: ['file', 'touch-every-request'], scenarios: ALL },
  { name: 'baseline · redis', family: 'baseline', backend: 'redis', server: 'sessionkeeper.ts', args: ['redis'], scenarios: ALL, fromBaseline: true },
  { name: 'baseline · postgres', family: 'baseline', backend: 'postgres', server: 'sessionkeeper.ts', args: ['postgres'], scenarios: ALL, fromBaseline: true },
  { name: 'baseline · file', family: 'baseline', backend: 'file', server: 'sessionkeeper.ts', args: ['file'], scenarios: ALL, fromBaseline: true },
  { name: 'koa-session + node-redis store', family: 'peer', backend: 'redis', server: 'koa-session-redis.ts', args: [], scenarios: ALL },
  { name: 'koa-session + node-redis store, rolling', family: 'peer', backend: 'redis', server: 'koa-session-redis.ts', args: ['rolling'], scenarios: ALL },
  { name: 'express-session + connect-redis', family: 'peer', backend: 'redis', server: 'express-redis.ts', args: [], scenarios: ALL },
  { name: 'express-session + connect-pg-simple', family: 'peer', backend: 'postgres', server: 'express-pg.ts', args: [], scenarios: ALL },
  { name: 'express-session + session-file-store', family: 'peer', backend: 'file', server: 'express-file.ts', args: [], scenarios: ALL },
  { name: 'limit · redis GET', family: 'limit', backend: 'redis', server: 'limit.ts', args: ['redis'], scenarios: ['read'] },
  { name: 'limit · postgres SELECT', family: 'limit', backend: 'postgres', server: 'limit.ts', args: ['postgres'], scenarios: ['read'] },
  { name: 'limit · file read', family: 'limit', backend: 'file', server: 'limit.ts', args: ['file'], scenarios: ['read'] },
];

/** The express-session peer on a backend: what sessionkeeper must beat 3× on it. */
export function expressPeerOn(backend: StoreKind): BenchCase {
  return CASES.find((c) => c.family === 'peer' && c.backend === backend && c.name.startsWith('express-session'))!;
}

/** sessionkeeper on a backend, as shipped (events in the store's shared log). */
export function sessionkeeperOn(backend: StoreKind): BenchCase {
  return CASES.find((c) => c.family === 'sessionkeeper' && c.backend === backend)!;
}

/** The baseline commit's sessionkeeper on a backend (every read rolled there). */
export function baselineOn(backend: StoreKind): BenchCase {
  return CASES.find((c) => c.family === 'baseline' && c.backend === backend)!;
}

export const KOA_SESSION_PEER = CASES.find((c) => c.name === 'koa-session + node-redis store')!;
export const KOA_SESSION_ROLLING_PEER = CASES.find((c) => c.name === 'koa-session + node-redis store, rolling')!;
export const CEILING = CASES.find((c) => c.family === 'ceiling')!;
