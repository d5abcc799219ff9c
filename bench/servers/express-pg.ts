/**
 * Peer: Express 5 + express-session + connect-pg-simple. The table is the one
 * connect-pg-simple's table.sql describes, created here under the run's name
 * (its own createTableIfMissing would name the indexes `session_pkey` and
 * `IDX_session_expire` whatever the table, and collide between runs).
 */
import pg from 'pg';
import { benchNamespace, COOKIE_SECRET, DATABASE_URL, requirePeer, serve, SESSION_TTL_MS } from './harness.ts';
import { addSessionRoutes, expressSessionOptions } from './express-routes.ts';

const express = requirePeer('express');
const session = requirePeer('express-session');
const PgStore = requirePeer('connect-pg-simple')(session);

const { pgTable } = benchNamespace();
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
await pool.query(`CREATE TABLE "${pgTable}" (
  "sid" varchar NOT NULL COLLATE "default" CONSTRAINT "${pgTable}_pkey" PRIMARY KEY,
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
)`);
await pool.query(`CREATE INDEX "${pgTable}_expire" ON "${pgTable}" ("expire")`);

const store = new PgStore({ pool, tableName: pgTable });
const app = express();
app.use(session(expressSessionOptions(store, SESSION_TTL_MS, COOKIE_SECRET)));
addSessionRoutes(app);
await serve(app, {
  close: async () => {
    await store.close();
    await pool.end();
  },
});
