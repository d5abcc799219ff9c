/**
 * `sessionkeeper`: server-side sessions for Koa in Redis, PostgreSQL or plain
 * files, that clean up after themselves and that operators can see into.
 * The dashboard is the other entry point, `sessionkeeper/admin`.
 */

// Building the middleware.
export {
  createSessionkeeper, openSessionkeeper, type Sessionkeeper, type SessionkeeperCore, type SessionkeeperDependencies,
} from './sessionkeeper.ts';

// Settings: the options object and its environment variables.
export {
  loadConfig, optionsFromEnv, resolveConfig, ConfigError,
  type SessionkeeperConfig, type SessionkeeperOptions, type CookieType, type LogFormat, type LogLevel,
} from './config.ts';

// What a route does with its visitor's session beyond reading and writing `ctx.session`.
export { endSession, regenerateSession, sessionOwner, sessionPublicId, setSessionOwner } from './koa-store-adapter.ts';
export type { EndOwnerSessionOptions, EndOwnerSessionsOptions, OwnerSessions } from './owner-sessions.ts';
export { SessionTooLargeError } from './session-too-large.ts';
export { StoreUnavailableError } from './store.ts';

// Lifecycle events and what the sweeper reports.
export type { SessionEvents, LifecycleEvent, LifecycleEventName, DestroyedBy } from './events.ts';
export type { EventLog, EventLogPage, EventLogSize, EventCounts } from './event-log/event-log.ts';
export type { GuardedEventLog } from './event-log/guarded-event-log.ts';
export { followEvents, type FollowOptions } from './event-log/follow-events.ts';
export type { SessionMetrics } from './metrics.ts';
export type { Sweeper, SweepReport } from './sweeper.ts';
export type { GuardedStore, GuardedSessionStore } from './guarded-store.ts';

// Switching backends (SESSION_STORE_PREVIOUS): the store of a switch under way, and the bulk migration.
export type { SwitchingStore } from './switching-store.ts';
export type { MoveOutcome } from './session-move.ts';
export { migrateSessions, type MigrationOptions, type MigrationProgress, type MigrationSummary } from './migration.ts';
export type { Logger } from './logger.ts';
export type { SecurityLog } from './security-log.ts';
export { publicIdOf } from './ids.ts';

// The store contract, for a store of your own, and the three stores, for one that shares your client or pool.
export { InvalidCursorError } from './cursor.ts';
export {
  MAX_OWNER_LENGTH, MAX_PAGE_SIZE, expiryOf, isDueToRoll, ownerProblem,
  type DeviceFacts, type RemovedSession, type Lifetime, type Rolling, type CounterRule, type CounterState,
  type SessionStore, type SessionRecord, type SessionSummary, type SessionPage, type ListOptions, type ListSort, type StoreKind, type SessionData,
} from './store.ts';
export { FileStore, type FileStoreOptions } from './stores/file-store.ts';
export { RedisStore, type RedisStoreOptions } from './stores/redis-store.ts';
export { PostgresStore, type PostgresStoreOptions } from './stores/postgres-store.ts';
