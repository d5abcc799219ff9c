/** Peer: Express 5 + express-session + connect-redis on a node-redis client. */
import { createClient } from 'redis';
import { benchNamespace, COOKIE_SECRET, REDIS_URL, requirePeer, serve, SESSION_TTL_MS } from './harness.ts';
import { addSessionRoutes, expressSessionOptions } from './express-routes.ts';

const express = requirePeer('express');
const session = requirePeer('express-session');
const { RedisStore } = requirePeer('connect-redis');

const { redisPrefix } = benchNamespace();
const client = createClient({ url: REDIS_URL });
await client.connect();

const app = express();
app.use(session(expressSessionOptions(new RedisStore({ client, prefix: redisPrefix }), SESSION_TTL_MS, COOKIE_SECRET)));
addSessionRoutes(app);
await serve(app, { close: () => client.close() });
