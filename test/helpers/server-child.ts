/**
 * Child process of `startServerProcess`: the reference app (createApp) on the
 * settings of its environment, listening on a free port of 127.0.0.1, logging
 * JSON lines to stdout. TEST_REDIS_PREFIX gives the Redis store its own key
 * prefix (prefixes are not a setting). Over IPC it answers `memory` with its
 * memory use after a forced garbage collection (run it with --expose-gc).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../middleware/config.ts';
import { createLogger } from '../../middleware/logger.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { createApp } from '../../server/app.ts';

const config = loadConfig(process.env, false);
const prefix = process.env.TEST_REDIS_PREFIX;
const store = config.store === 'redis' && prefix ? new RedisStore({ url: config.redisUrl, prefix }) : undefined;
const logger = createLogger({ level: config.logLevel, format: 'json' });
const { app, close } = await createApp(config, { logger, store });
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
// Written whatever LOG_LEVEL says: the parent waits for this line.
process.stdout.write(`${JSON.stringify({ msg: 'test server listening', port: (server.address() as AddressInfo).port })}\n`);

process.on('message', (message) => {
  if (message !== 'memory') return;
  (globalThis as { gc?: () => void }).gc?.();
  process.send?.({ memory: process.memoryUsage() });
});

// The parent ends the child with SIGTERM (or SIGKILL in crash tests); an orphan ends with its parent.
const stop = async () => {
  server.close();
  server.closeAllConnections();
  await close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
