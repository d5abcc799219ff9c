/**
 * Backend switches for tests: the six ordered pairs of the three stores (and
 * one move between two stores of the same kind), and the settings that name a
 * namespace as the previous store, as library options or as the environment
 * of a process (`SESSION_STORE_PREVIOUS` and the `PREVIOUS_…` variables).
 */
import type { SessionkeeperOptions } from '../../middleware/config.ts';
import type { StoreKind } from '../../middleware/store.ts';
import { STORE_KINDS, type StoreNamespace } from './store-fixtures.ts';

/** Every ordered pair of two different kinds: from the first to the second. */
export const SWITCH_PAIRS: readonly (readonly [StoreKind, StoreKind])[] = STORE_KINDS.flatMap((from) =>
  STORE_KINDS.filter((to) => to !== from).map((to) => [from, to] as const),
);

/** The one same-kind move the suite tries: one Redis prefix to another on the same server. */
export const SAME_KIND_PAIR = ['redis', 'redis'] as const;

/** `SESSION_STORE_PREVIOUS` and the `PREVIOUS_…` variables that make `previous` the store sessions move away from. */
export function previousEnvOf(previous: StoreNamespace): Record<string, string> {
  const env: Record<string, string> = { SESSION_STORE_PREVIOUS: previous.kind };
  for (const [name, value] of Object.entries(previous.env)) if (name !== 'SESSION_STORE') env[`PREVIOUS_${name}`] = value;
  return env;
}

/** The same as library options. */
export function previousOptionsOf(previous: StoreNamespace): SessionkeeperOptions {
  const { fileDir, pgTable, redisUrl, redisPrefix, databaseUrl } = previous.settings;
  const options: SessionkeeperOptions = { previousStore: previous.kind };
  if (previous.kind === 'file') options.previousFileDir = fileDir;
  if (previous.kind === 'redis') Object.assign(options, { previousRedisUrl: redisUrl, previousRedisPrefix: redisPrefix });
  if (previous.kind === 'postgres') Object.assign(options, { previousDatabaseUrl: databaseUrl, previousPgTable: pgTable });
  return options;
}
