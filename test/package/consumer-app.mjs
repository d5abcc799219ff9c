// A user's Koa app, as the README shows it: plain JavaScript run by plain
// `node` (no TypeScript, no tsx) in a folder where `sessionkeeper` was
// installed from the packed tarball. published-package.test.ts copies it
// there as app.mjs and drives it over HTTP.
//
// Environment: SESSION_DIR (the file store), SESSION_KEY (cookie signing),
// ADMIN_PASSWORD (the dashboard). It prints {"port": n} once it listens.
import Koa from 'koa';
import { createSessionkeeper, optionsFromEnv } from 'sessionkeeper';
import { createAdmin } from 'sessionkeeper/admin';

const app = new Koa();
const sessions = await createSessionkeeper(app, {
  ...optionsFromEnv(),
  store: 'file',
  fileDir: process.env.SESSION_DIR,
  keys: [process.env.SESSION_KEY],
  logLevel: 'silent',
});
app.use(createAdmin(sessions, { path: '/ops/sessions', user: 'ops', password: process.env.ADMIN_PASSWORD }));
app.use(sessions.middleware);

// The one route of the app: counts the visitor's visits in the session and
// says whether the session it found was new and what it held before.
// Every other path is left to Koa's own 404.
app.use(async (ctx) => {
  if (ctx.path !== '/visit') return;
  const isNew = ctx.session.isNew === true;
  const visitsBefore = ctx.session.visits ?? 0;
  ctx.session.visits = visitsBefore + 1;
  ctx.body = { isNew, visitsBefore };
});

const server = app.listen(0, '127.0.0.1');
server.once('listening', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', () => {
  server.close(() => sessions.close().then(() => process.exit(0)));
  server.closeAllConnections();
});
