/** Graceful shutdown of an HTTP server: the reference server's and the CLI's standalone dashboard's. */
import type { Server } from 'node:http';
import type { Logger } from '../middleware/logger.ts';

/** How long requests in flight get to finish after SIGINT/SIGTERM before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 5000;
const IDLE_CHECK_MS = 100;

/**
 * On SIGINT or SIGTERM: stop accepting connections, let requests in flight
 * finish, then close the sessions (sweeper and store) and let the process
 * exit. If that takes longer than SHUTDOWN_GRACE_MS, or a second signal
 * arrives, the process exits at once with status 1.
 */
export function shutDownGracefully(server: Server, site: { beginShutdown(): void; close(): Promise<void> }, logger: Logger): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    // Unref'd: it fires only if something still holds the process open.
    setTimeout(() => {
      logger.error(`shutdown did not finish within ${SHUTDOWN_GRACE_MS} ms: exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    try {
      // Keep-alive connections hold close() open until they time out: end each one as soon as it is idle.
      const closeIdle = setInterval(() => server.closeIdleConnections(), IDLE_CHECK_MS);
      site.beginShutdown(); // ends the dashboard's event streams, which never finish by themselves
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }).finally(() => clearInterval(closeIdle));
      await site.close();
      logger.info('stopped');
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exitCode = 1;
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
