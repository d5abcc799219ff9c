/**
 * The entry `npm start` runs: reads the settings from the environment (none
 * are needed), builds the site, listens on HOST:PORT and shuts down gracefully
 * on SIGINT/SIGTERM.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../middleware/index.ts';
import { shutDownGracefully } from '../web/graceful-shutdown.ts';
import { assertServableOverHttp, urlOf } from '../web/listen-settings.ts';
import { createApp } from './app.ts';
import { loadSiteOptions } from './settings.ts';

function settingsOrExit(): ReturnType<typeof loadSiteOptions> {
  try {
    const options = loadSiteOptions(process.env);
    assertServableOverHttp(Boolean(options.sessions.production), options.server.trustProxy);
    return options;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

const options = settingsOrExit();
const { host, port: wantedPort } = options.server;
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
const url = urlOf(host, port);
logger.info({ url, store: store.kind, location: store.location }, `listening on ${url}, sessions in the ${store.kind} store at ${store.location}`);
