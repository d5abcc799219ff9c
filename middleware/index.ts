/**
 * sessionkeeper: server-side sessions for Koa in Redis, PostgreSQL or plain
 * files, that clean up after themselves and that operators can see into.
 */
export { createSessionkeeper, type Sessionkeeper, type SessionkeeperDependencies } from './sessionkeeper.ts';
export {
  loadConfig, optionsFromEnv, resolveConfig, defaultOptions, redactUrl, ConfigError,
  type SessionkeeperConfig, type SessionkeeperOptions, type CookieType, type LogFormat, type LogLevel,
} from './config.ts';
export { endSession, regenerateSession, sessionPublicId } from './koa-store-adapter.ts';
export { SessionTooLargeError } from './session-too-large.ts';
export { SessionEvents, type LifecycleEvent, type LifecycleEventName, type DestroyedBy } from './events.ts';
export { Sweeper, type SweepReport } from './sweeper.ts';
export { GuardedStore, withStoreBudget, REQUEST_STORE_BUDGET_MS } from './guarded-store.ts';
export { createLogger, type Logger } from './logger.ts';
export { createStore } from './create-store.ts';
export { InvalidCursorError } from './cursor.ts';
export { publicIdOf, isWellFormedPublicId } from './ids.ts';
export {
  StoreUnavailableError, MAX_PAGE_SIZE, expiryOf,
  type Lifetime,
  type SessionStore, type SessionRecord, type SessionSummary, type SessionPage, type ListOptions, type ListSort, type StoreKind, type SessionData,
} from './store.ts';
export { FileStore, type FileStoreOptions } from './stores/file-store.ts';
export { RedisStore, type RedisStoreOptions } from './stores/redis-store.ts';
export { PostgresStore, type PostgresStoreOptions } from './stores/postgres-store.ts';
