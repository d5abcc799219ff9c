/**
 * The physical floor of a session read on the store named by argv[2]: bare
 * Koa plus the one raw read a request needs and the JSON decoding of its
 * ~1 KB: one Redis GET, one SELECT by primary key, or one file read. The
 * cookie carries the key as is (no signature, no hashing, no expiry check).
 * `POST /new` stores a session only to build the orchestrator's pool.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Koa from 'koa';
import pg from 'pg';
import { createClient } from 'redis';
import { benchNamespace, DATABASE_URL, REDIS_URL, serve, sessionPayload } from './harness.ts';

interface RawStore {
  read(key: string): Promise<unknown>;
  write(key: string, json: string): Promise<void>;
  close(): Promise<void>;
}

const { redisPrefix, pgTable, fileDir } = benchNamespace();

async function openRawStore(kind: string): Promise<RawStore> {
  if (kind === 'redis') {
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    return {
      read: async (key) => {
        const text = await client.get(redisPrefix + key);
        return text === null ? undefined : JSON.parse(text);
      },
      write: async (key, json) => void (await client.set(redisPrefix + key, json)),
      close: () => client.close(),
    };
  }
  if (kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
    await pool.query(`CREATE TABLE "${pgTable}" (id text PRIMARY KEY, data jsonb NOT NULL)`);
    return {
      read: async (key) => (await pool.query(`SELECT data FROM "${pgTable}" WHERE id = $1`, [key])).rows[0]?.data,
      write: async (key, json) => void (await pool.query(`INSERT INTO "${pgTable}" (id, data) VALUES ($1, $2)`, [key, json])),
      close: () => pool.end(),
    };
  }
  await mkdir(fileDir, { recursive: true });
  return {
    read: async (key) => {
      try {
        return JSON.parse(await readFile(join(fileDir, `${key}.json`), 'utf8'));
      } catch {
        return undefined;
      }
    },
    write: (key, json) => writeFile(join(fileDir, `${key}.json`), json),
    close: async () => {},
  };
}

const store = await openRawStore(process.argv[2]!);
const COOKIE_PATTERN = /(?:^|;\s*)sid=([A-Za-z0-9_-]{43})/;

const app = new Koa();
app.use(async (ctx) => {
  const route = `${ctx.method} ${ctx.path}`;
  if (route === 'POST /new') {
    const key = randomBytes(32).toString('base64url');
    await store.write(key, JSON.stringify(sessionPayload(0)));
    ctx.cookies.set('sid', key, { signed: false });
    ctx.body = { created: true };
  } else if (route === 'GET /read') {
    const key = COOKIE_PATTERN.exec(ctx.get('cookie'))?.[1];
    const session = key === undefined ? undefined : ((await store.read(key)) as { visits?: number } | undefined);
    if (!session) ctx.status = 409;
    else ctx.body = { visits: session.visits };
  } else {
    ctx.status = 404;
  }
});
await serve(app.callback(), { close: () => store.close() });
