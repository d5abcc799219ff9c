/**
 * Peer: koa-session with the minimal node-redis external store people write
 * for it (one GET, one SET with a TTL, one DEL), configured as commonly
 * deployed: signed cookies, 30-minute maxAge, no rolling refresh. With argv[2]
 * `rolling`, koa-session's `rolling: true`: every request stores the session
 * again and re-sends its cookie, so a session lives 30 minutes from its last
 * use, as sessionkeeper's do.
 */
import Koa from 'koa';
import createSession from 'koa-session';
import { createClient } from 'redis';
import { benchNamespace, COOKIE_SECRET, REDIS_URL, serve, SESSION_TTL_MS } from './harness.ts';
import { sessionRoutes } from './koa-routes.ts';

const { redisPrefix } = benchNamespace();
const client = createClient({ url: REDIS_URL });
await client.connect();

const store = {
  async get(key: string) {
    const text = await client.get(redisPrefix + key);
    return text ? JSON.parse(text) : undefined;
  },
  async set(key: string, session: unknown, maxAge: number | 'session') {
    const ttlMs = typeof maxAge === 'number' ? maxAge : SESSION_TTL_MS;
    await client.set(redisPrefix + key, JSON.stringify(session), { expiration: { type: 'PX', value: ttlMs } });
  },
  async destroy(key: string) {
    await client.del(redisPrefix + key);
  },
};

const app = new Koa();
app.keys = [COOKIE_SECRET];
app.use(createSession({ maxAge: SESSION_TTL_MS, rolling: process.argv[2] === 'rolling', store }, app));
app.use(sessionRoutes());
await serve(app.callback(), { close: () => client.close() });
