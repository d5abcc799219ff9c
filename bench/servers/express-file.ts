/** Peer: Express 5 + express-session + session-file-store in the run's directory (its logging off). */
import { benchNamespace, COOKIE_SECRET, requirePeer, serve, SESSION_TTL_MS } from './harness.ts';
import { addSessionRoutes, expressSessionOptions } from './express-routes.ts';

const express = requirePeer('express');
const session = requirePeer('express-session');
const FileStore = requirePeer('session-file-store')(session);

const { fileDir } = benchNamespace();
const store = new FileStore({ path: fileDir, ttl: SESSION_TTL_MS / 1000, logFn: () => {} });
const app = express();
app.use(session(expressSessionOptions(store, SESSION_TTL_MS, COOKIE_SECRET)));
addSessionRoutes(app);
await serve(app);
