/**
 * The library as a user installs it: compiled JavaScript imported by plain
 * Node (no tsx), through the package's `exports`, in a Koa app of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

const USER_APP = `
import Koa from 'koa';
import { createSessionkeeper, endSession } from 'sessionkeeper';
const app = new Koa();
const sessions = await createSessionkeeper(app, { store: 'file', fileDir: process.env.DIR, logLevel: 'silent' });
app.use(sessions.middleware);
app.use((ctx) => {
  if (ctx.path === '/logout') { endSession(ctx, 'user'); ctx.status = 204; return; }
  ctx.session.views = (ctx.session.views ?? 0) + 1;
  ctx.body = String(ctx.session.views);
});
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const url = 'http://127.0.0.1:' + server.address().port;
const first = await fetch(url);
const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
const second = await fetch(url, { headers: { cookie } });
console.log(await first.text(), await second.text(), await sessions.store.count(Date.now()));
server.close();
await sessions.close();
`;

test('the compiled package works in a plain Node Koa app, without tsx', async () => {
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_DIR });
  const dir = await mkdtemp(join(tmpdir(), 'sessionkeeper-package-'));
  try {
    // Run from the repository so `import 'sessionkeeper'` resolves through package.json "exports" (self-reference).
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', USER_APP], { cwd: REPO_DIR, env: { PATH: process.env.PATH, DIR: dir } });
    assert.equal(stdout.trim(), '1 2 1');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
