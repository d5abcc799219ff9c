/**
 * Child process of `startServerProcess`: the reference app (createApp) on the
 * settings of its environment, read as `server/main.ts` reads them, listening
 * on a free port of 127.0.0.1, logging JSON lines to stdout. Over IPC it
 * answers `memory` with its memory use after a forced garbage collection (run
 * it with --expose-gc).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../server/app.ts';
import { loadSiteOptions } from '../../server/settings.ts';

// As server/main.ts does: the settings, and the logger they describe (LOG_LEVEL, LOG_FORMAT), from the environment.
const { app, close } = await createApp(loadSiteOptions(process.env, false));
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
