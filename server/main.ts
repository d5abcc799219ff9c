/**
 * The entry `npm start` runs: reads the settings from the environment (none
 * are needed), builds the site, listens on HOST:PORT and shuts down gracefully
 * on SIGINT/SIGTERM.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../middleware/index.ts';
import { createApp } from './app.ts';
import { shutDownGracefully } from './graceful-shutdown.ts';
import { loadSiteOptions } from './settings.ts';

function settingsOrExit(): ReturnType<typeof loadSiteOptions> {
  try {
    return loadSiteOptions(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

const options = settingsOrExit();
const { host, port: wantedPort, trustProxy } = options.server;
// This server speaks plain HTTP only, and production cookies are Secure: without a TLS proxy in front, every page would be refused.
if (options.sessions.production && !trustProxy) {
  console.error('NODE_ENV=production makes the cookies Secure, which this server cannot send over its own plain HTTP: serve it behind a TLS proxy and set TRUST_PROXY=true');
  process.exit(1);
}
const site = await createApp(options);
const { app, sessions, close } = site;
const { logger, store } = sessions;
const server = app.listen(wantedPort, host);
try {
  await once(server, 'listening');
} catch (err) {
  logger.fatal({ err, host, port: wantedPort }, `cannot listen on ${host}:${wantedPort}`);
  await close();
  process.exit(1);
}

// Before saying where it listens: whoever reads that line may signal at once.
shutDownGracefully(server, site, logger);
const { port } = server.address() as AddressInfo;
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
logger.info({ url, store: store.kind, location: store.location }, `listening on ${url}, sessions in the ${store.kind} store at ${store.location}`);
