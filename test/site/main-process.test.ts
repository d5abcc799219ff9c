/**
 * The real entry point as a child process: `npm start` with no settings at
 * all, graceful shutdown with a request in flight, and a bad setting.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { textFileForm } from '../helpers/upload-forms.ts';

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO_DIR, 'server', 'main.ts');
/** tsx's loader by absolute URL, so the entry also runs from a directory outside the repository. */
const TSX_LOADER = import.meta.resolve('tsx');
const START_TIMEOUT_MS = 30_000;
/** The server gives requests in flight 5 s (SHUTDOWN_GRACE_MS); it must be gone well before this. */
const EXIT_TIMEOUT_MS = 10_000;

/** Only what a shell needs to find node and npm: no sessionkeeper setting at all. */
const BARE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir() };

interface RunningServer {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Resolves when every process writing to the output has exited (npm, its shell, tsx and the server). */
  drained: Promise<void>;
}

function startProcess(command: string, args: string[], options: { cwd: string; env: Record<string, string>; detached?: boolean }): Promise<RunningServer> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const drained = Promise.all([once(child.stdout!, 'end'), once(child.stderr!, 'end')]).then(() => undefined);
  return new Promise((resolve, reject) => {
    let listening = false;
    const timer = setTimeout(() => fail(new Error(`no "listening on" line within ${START_TIMEOUT_MS} ms:\n${text}`)), START_TIMEOUT_MS);
    function fail(err: Error) {
      if (listening) return;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    const onData = (chunk: Buffer) => {
      text += chunk;
      const url = /listening on (http:\/\/[^\s",]+)/.exec(text)?.[1];
      if (url && !listening) {
        listening = true;
        clearTimeout(timer);
        resolve({ child, url, output: () => text, drained });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code, signal) => fail(new Error(`exited (${code ?? signal}) before listening:\n${text}`)));
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('server/main.ts', () => {
  test('`npm start` with no settings serves the site on the file store and stops on SIGTERM', async () => {
    const checkout = await checkoutWithoutVar();
    try {
      // PORT is the one variable set: 0 takes a free port, so the test never collides with a server on the default 3000.
      // Detached: the server runs in its own process group, signalled as a whole, as a terminal or container runtime does.
      const server = await startProcess('npm', ['start'], { cwd: checkout, env: { ...BARE_ENV, PORT: '0' }, detached: true });
      try {
        assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'HOST defaults to 127.0.0.1');
        const health = await fetch(`${server.url}/healthz`);
        assert.equal(health.status, 200);
        assert.deepEqual(await health.json(), { store: 'file', healthy: true });
        const home = await fetch(`${server.url}/`);
        assert.equal(home.status, 200);
        assert.match(await home.text(), /Upload a text file/);
        assert.match(server.output(), new RegExp(`sessions in the file store at ${join(checkout, 'var', 'sessions')}`));
      } finally {
        process.kill(-server.child.pid!, 'SIGTERM');
        await within(server.drained, EXIT_TIMEOUT_MS, 'exit after SIGTERM').catch((err) => {
          process.kill(-server.child.pid!, 'SIGKILL');
          throw err;
        });
      }
      assert.match(server.output(), /"msg":"stopped"/);
      assert.doesNotMatch(server.output(), /exiting anyway|shutdown failed/);
    } finally {
      await rm(checkout, { recursive: true, force: true });
    }
  });

  test('on SIGTERM it stops accepting, finishes the request in flight, saves its session, then exits 0', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sessionkeeper-main-'));
    let server: RunningServer | undefined;
    try {
      server = await startProcess(process.execPath, ['--import', TSX_LOADER, MAIN], { cwd, env: { ...BARE_ENV, PORT: '0' } });
      const exited = once(server.child, 'exit');
      const { hostname, port } = new URL(server.url);

      // An upload whose body is only half sent when the signal arrives.
      const form = textFileForm('sent before and after SIGTERM\n');
      const upload = httpRequest({ host: hostname, port, method: 'POST', path: '/', headers: { 'Content-Type': form.contentType, 'Content-Length': form.body.length } });
      const response = once(upload, 'response') as Promise<[IncomingMessage]>;
      upload.write(form.body.subarray(0, 20));
      await new Promise((resolve) => setTimeout(resolve, 300));
      server.child.kill('SIGTERM');
      await within(waitForOutput(server, /shutting down/), EXIT_TIMEOUT_MS, 'the shutdown log line');

      await assert.rejects(fetch(`${server.url}/healthz`), 'no new connections are accepted');
      upload.end(form.body.subarray(20));
      const [res] = await response;
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/action');
      res.resume();

      // Well under Node's 5 s keep-alive timeout: the finished request's idle connection must not hold the exit.
      const [code, signal] = await within(exited, 3000, 'exit once the request in flight was answered');
      assert.equal(signal, null);
      assert.equal(code, 0, server.output());
      assert.match(server.output(), /"msg":"stopped"/);
      // With no settings the file store lives in ./var/sessions of the working directory.
      const files = await readdir(join(cwd, 'var', 'sessions'));
      assert.equal(files.filter((name) => name.endsWith('.json')).length, 1, 'the in-flight request saved its session before the store closed');
    } finally {
      stopIfRunning(server);
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('an open dashboard event stream does not hold the shutdown open', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sessionkeeper-main-'));
    let server: RunningServer | undefined;
    try {
      const password = 'shutdown-test-password';
      server = await startProcess(process.execPath, ['--import', TSX_LOADER, MAIN], { cwd, env: { ...BARE_ENV, PORT: '0', ADMIN_PASSWORD: password } });
      const exited = once(server.child, 'exit');
      const { hostname, port } = new URL(server.url);
      const stream = httpRequest({ host: hostname, port, path: '/admin/events/stream', headers: { Authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` } });
      stream.end();
      const [res] = (await once(stream, 'response')) as [IncomingMessage];
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/event-stream/);
      const ended = once(res, 'end');
      res.resume();
      server.child.kill('SIGTERM');
      await within(ended, 3000, 'the event stream ending on shutdown');
      const [code] = await within(exited, 3000, 'exit with a dashboard open');
      assert.equal(code, 0, server.output());
    } finally {
      stopIfRunning(server);
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('SIGINT (Ctrl-C) stops it too', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sessionkeeper-main-'));
    let server: RunningServer | undefined;
    try {
      server = await startProcess(process.execPath, ['--import', TSX_LOADER, MAIN], { cwd, env: { ...BARE_ENV, PORT: '0' } });
      const exited = once(server.child, 'exit');
      server.child.kill('SIGINT');
      const [code] = await within(exited, EXIT_TIMEOUT_MS, 'exit after SIGINT');
      assert.equal(code, 0, server.output());
    } finally {
      stopIfRunning(server);
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('production without TRUST_PROXY stops start-up with one line saying why: Secure cookies cannot go over its own plain HTTP', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sessionkeeper-main-'));
    const env = { ...BARE_ENV, PORT: '0', NODE_ENV: 'production', SESSION_KEYS: 'main-process-key-0123456789abcdef' };
    const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const [code] = await within(once(child, 'exit'), START_TIMEOUT_MS, 'exit');
      assert.equal(code, 1);
      assert.equal(
        stderr,
        'NODE_ENV=production makes the cookies Secure, which this server cannot send over its own plain HTTP: serve it behind a TLS proxy and set TRUST_PROXY=true\n',
      );
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('an invalid setting stops start-up with one line naming it', async () => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN], { cwd: tmpdir(), env: { ...BARE_ENV, SESSION_STORE: 'mongodb' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = await within(once(child, 'exit'), START_TIMEOUT_MS, 'exit');
    assert.equal(code, 1);
    assert.equal(stderr, 'SESSION_STORE="mongodb" is not valid: expected file, redis, postgres\n');
  });
});

/**
 * A checkout of the repository in a temporary directory: every top-level entry
 * linked, except `var/`, where the server with no settings keeps its sessions.
 * `npm start` runs there as in the repository, and writes nothing into it.
 */
async function checkoutWithoutVar(): Promise<string> {
  const checkout = await mkdtemp(join(tmpdir(), 'sessionkeeper-checkout-'));
  for (const entry of await readdir(REPO_DIR)) {
    if (entry !== 'var') await symlink(join(REPO_DIR, entry), join(checkout, entry));
  }
  return checkout;
}

/** After a failed assertion: never leave a server running. */
function stopIfRunning(server: RunningServer | undefined): void {
  if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
}

function waitForOutput(server: RunningServer, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!pattern.test(server.output())) return;
      server.child.stdout!.off('data', check);
      resolve();
    };
    server.child.stdout!.on('data', check);
    check();
  });
}
