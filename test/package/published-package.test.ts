/**
 * The package as npm publishes it: `npm pack` of this repository (which
 * builds dist/ through `prepack`), installed from the tarball into a fresh
 * folder outside the repository, and used there by a plain-JavaScript Koa app
 * (`consumer-app.mjs`) run by plain `node`. Nothing here loads the
 * repository's source or its node_modules: what a user gets is what is tested.
 *
 * It needs npm and the registry (for the package's dependencies); when either
 * fails, the test fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { filesUnder, importsOfFile, isRelative, packageNameOf } from './module-imports.ts';

const execFileAsync = promisify(execFile);
const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
const MANIFEST = JSON.parse(await readFile(join(REPO_DIR, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

/** Where consumer-app.mjs mounts the dashboard, and its credentials. */
const DASHBOARD = '/ops/sessions';
const ADMIN_USER = 'ops';
const ADMIN_PASSWORD = 'published-package-test';

/** Tools of this repository's development that must never reach a user's install. */
const DEV_ONLY_PACKAGES = ['tsx', 'typescript', 'helmet', 'koa-helmet', 'busboy', 'supertest', 'playwright-core', '@biomejs/biome', 'fast-check', 'esbuild'];

/** npm pack and npm install can take a minute or more each on a cold cache. */
const NPM_TIMEOUT_MS = 240_000;

// ---------------------------------------------------------------------------
// npm

/** What `npm pack --json` reports about the tarball. */
interface PackReport {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number; mode: number }[];
}

/**
 * The environment for npm children, without the variables an enclosing
 * `npm test` sets: `npm_config_local_prefix` would point an install in the
 * temporary folder back at this repository.
 */
function npmEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(npm_config_local_prefix|npm_package_|npm_lifecycle_|INIT_CWD$)/.test(name)),
  );
}

/** Runs npm; a failure throws with npm's own output, so the test says what went wrong. */
async function npm(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync('npm', args, { cwd, env: npmEnvironment(), maxBuffer: 64 * 1024 * 1024, timeout: NPM_TIMEOUT_MS });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${stderr}\n${stdout}`.trim(), { cause: error });
  }
}

/** `npm pack` of the repository into `destination`; `prepack` builds dist/ first, as on `npm publish`. */
async function packRepository(destination: string): Promise<PackReport> {
  const stdout = await npm(['pack', '--json', '--pack-destination', destination], REPO_DIR);
  // The JSON is the last thing written; anything a lifecycle script prints would come before it.
  const [report] = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as PackReport[];
  assert.ok(report, 'npm pack reported no tarball');
  return report;
}

/** A folder of its own with `{"type": "module"}` and the tarball plus Koa 3 installed from the registry. */
async function installInFreshFolder(folder: string, tarball: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'package.json'), `${JSON.stringify({ name: 'sessionkeeper-consumer', private: true, type: 'module' }, null, 2)}\n`);
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, 'koa@3'], folder);
}

/** A node of `npm ls --json`: the installed packages under it, by name. */
interface NpmTree {
  version?: string;
  dependencies?: Record<string, NpmTree>;
}

/** The names of every package in the tree, at any depth. */
function packageNamesIn(tree: NpmTree): Set<string> {
  const names = new Set<string>();
  const walk = (node: NpmTree) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      names.add(name);
      walk(child);
    }
  };
  walk(tree);
  return names;
}

// ---------------------------------------------------------------------------
// The consumer app over HTTP

/** The cookies one client holds: one jar per browser (a visitor, the operator). */
class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Takes the response's `Set-Cookie`s; a cookie set empty or already expired is removed, as a browser does. */
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expires = attributes.map((attribute) => /^\s*expires=(.*)$/i.exec(attribute)?.[1]).find(Boolean);
      if (value === '' || (expires && Date.parse(expires) <= Date.now())) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  names(): string[] {
    return [...this.#cookies.keys()].sort();
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** The app under test, listening on 127.0.0.1. */
interface RunningApp {
  baseUrl: string;
  child: ChildProcess;
  stderr: () => string;
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** One request as a browser or a script sends it; redirects are not followed, so their targets can be checked. */
async function send(
  app: RunningApp,
  path: string,
  options: { method?: string; jar?: CookieJar; form?: Record<string, string>; basicAuth?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const cookie = options.jar?.header();
  if (cookie) headers.cookie = cookie;
  if (options.basicAuth) headers.authorization = `Basic ${Buffer.from(options.basicAuth).toString('base64')}`;
  // A browser names the page's origin on a form post; the dashboard checks it.
  if (options.form) headers.origin = app.baseUrl;
  const response = await fetch(`${app.baseUrl}${path}`, {
    method: options.method ?? (options.form ? 'POST' : 'GET'),
    headers,
    body: options.form ? new URLSearchParams(options.form) : undefined,
    redirect: 'manual',
  });
  options.jar?.take(response);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Copies consumer-app.mjs into the consumer folder and starts it with plain `node`; resolves once it prints its port. */
async function startConsumerApp(folder: string, sessionDir: string): Promise<RunningApp> {
  await copyFile(fileURLToPath(new URL('consumer-app.mjs', import.meta.url)), join(folder, 'app.mjs'));
  // Only what the app needs: no NODE_OPTIONS (that could load tsx), no NODE_ENV, no SESSION_* of the test run.
  const env = { PATH: process.env.PATH, SESSION_DIR: sessionDir, SESSION_KEY: 'published-package-test-signing-key', ADMIN_PASSWORD };
  const child = spawn(process.execPath, ['app.mjs'], { cwd: folder, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout! });
  const port = await Promise.race([
    (async () => {
      for await (const line of lines) {
        const port = (JSON.parse(line) as { port?: number }).port;
        if (port) return port;
      }
      throw new Error('the app ended its output without printing its port');
    })(),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the app exited with ${code} before listening:\n${stderr}`);
    }),
  ]);
  return { baseUrl: `http://127.0.0.1:${port}`, child, stderr: () => stderr };
}

async function stopConsumerApp(app: RunningApp): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  const exited = once(app.child, 'exit');
  app.child.kill('SIGTERM');
  const timer = setTimeout(() => app.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** The public id of a raw session id (the `sid` cookie), computed by the installed package in a `node` of its own. */
async function publicIdByInstalledPackage(folder: string, rawId: string): Promise<string> {
  const script = "import { publicIdOf } from 'sessionkeeper'; process.stdout.write(publicIdOf(process.argv[1]));";
  // `--` first: an id is base64url and may begin with '-', which node would take for an option of its own.
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script, '--', rawId], { cwd: folder, env: { PATH: process.env.PATH } });
  return stdout;
}

/** A visitor's request to the app's one route: whether its session was new, and how many visits it held before. */
async function visit(app: RunningApp, visitor: CookieJar): Promise<{ isNew: boolean; visitsBefore: number }> {
  const answer = await send(app, '/visit', { jar: visitor });
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body) as { isNew: boolean; visitsBefore: number };
}

/** The attributes of every `<input>` in a piece of HTML. */
function inputsOf(html: string): Record<string, string>[] {
  return [...html.matchAll(/<input\b[^>]*>/g)].map(([tag]) => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map(([, name, value]) => [name!, value!])));
}

/** The value of the hidden `csrf` field in a piece of HTML. */
function csrfFieldOf(html: string): string {
  const field = inputsOf(html).find((input) => input.type === 'hidden' && input.name === 'csrf');
  assert.ok(field?.value, `no hidden csrf field in:\n${html}`);
  return field.value;
}

/** The contents of the `<form>` that posts to `action`, or undefined when the page has none. */
function formPostingTo(html: string, action: string): string | undefined {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].find(([, attributes]) => attributes!.includes(`action="${action}"`))?.[2];
}

/** Signs in through the login form, as a browser does: the form's token and its double-submit cookie, then the admin cookie. */
async function signInThroughForm(app: RunningApp): Promise<CookieJar> {
  const operator = new CookieJar();
  const page = await send(app, `${DASHBOARD}/login`, { jar: operator });
  assert.equal(page.status, 200, page.body);
  assert.ok(operator.get('sk_admin_login'), `the login page sets sk_admin_login; cookies: ${operator.names()}`);
  const signIn = await send(app, `${DASHBOARD}/login`, { jar: operator, form: { csrf: csrfFieldOf(page.body), user: ADMIN_USER, password: ADMIN_PASSWORD } });
  assert.equal(signIn.status, 303, signIn.body);
  assert.equal(signIn.headers.get('location'), DASHBOARD);
  assert.ok(operator.get('sk_admin'), `signing in sets sk_admin; cookies: ${operator.names()}`);
  return operator;
}

/** The sessions the JSON API lists (Basic auth). */
async function sessionsInApi(app: RunningApp): Promise<{ id: string; keys: string[] }[]> {
  const answer = await send(app, `${DASHBOARD}/api/sessions`, { basicAuth: `${ADMIN_USER}:${ADMIN_PASSWORD}` });
  assert.equal(answer.status, 200, answer.body);
  return (JSON.parse(answer.body) as { sessions: { id: string; keys: string[] }[] }).sessions;
}

async function apiListsSession(app: RunningApp, publicId: string): Promise<boolean> {
  return (await sessionsInApi(app)).some((session) => session.id === publicId);
}

// ---------------------------------------------------------------------------
// The published files

/** The files `exports` points at: `./dist/middleware/index.js` → `dist/middleware/index.js`. */
function exportTargets(): string[] {
  return Object.values(MANIFEST.exports)
    .flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target)))
    .map((target) => target.replace(/^\.\//, ''));
}

/** The files of a repository folder as the tarball must hold them under `dist/`: `views/admin/login.ejs` → `dist/views/admin/login.ejs`. */
function expectedCopiesOf(folder: string): string[] {
  return filesUnder(join(REPO_DIR, folder), () => true).map((path) => `dist/${relative(REPO_DIR, path).split('\\').join('/')}`);
}

/** Why a tarball path should not be published, or undefined when it may be. */
function reasonNotToPublish(path: string): string | undefined {
  if (path === 'package.json' || path === 'README.md') return undefined;
  if (!path.startsWith('dist/')) return 'outside dist/';
  if (/(^|\/)(test|tests|bench|benchmarks|screenshots|docs|server|bin|scripts|var)\//.test(path)) return 'a development or server folder';
  if (/\.(test|spec|e2e)\.|\.(png|jpe?g|map|tsbuildinfo)$/.test(path)) return 'a test, screenshot, source map or build artefact';
  if (/\.(ts|tsx|mts|cts)$/.test(path) && !path.endsWith('.d.ts')) return 'TypeScript source';
  return undefined;
}

// ---------------------------------------------------------------------------

let workDir = '';
let packed: PackReport;
let consumerDir = '';
/** The consumer app's file store, which the CLI reads too. */
let sessionDir = '';
let app: RunningApp | undefined;
const timings: Record<string, number> = {};

async function timed<T>(name: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await step();
  } finally {
    timings[name] = Math.round(performance.now() - started);
  }
}

before(
  async () => {
    workDir = await mkdtemp(join(tmpdir(), 'sessionkeeper-published-'));
    // Inside the repository, Node would find the repository's node_modules from the consumer folder.
    assert.ok(relative(REPO_DIR, workDir).startsWith('..'), `the temporary folder ${workDir} is outside ${REPO_DIR}`);
    consumerDir = join(workDir, 'consumer');
    packed = await timed('npm pack (with build)', () => packRepository(workDir));
    await timed('npm install', () => installInFreshFolder(consumerDir, join(workDir, packed.filename)));
    sessionDir = join(workDir, 'sessions');
    app = await timed('app start', () => startConsumerApp(consumerDir, sessionDir));
  },
  { timeout: 2 * NPM_TIMEOUT_MS + 30_000 },
);

after(async () => {
  if (app) await stopConsumerApp(app);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('the tarball holds package.json, README.md and dist/ only, with the templates and assets', (t) => {
  t.diagnostic(`${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.entryCount} files`);
  t.diagnostic(`timings (ms): ${JSON.stringify(timings)}`);
  const paths = packed.files.map((file) => file.path);
  assert.equal(paths.length, packed.entryCount);

  const unwanted = paths.flatMap((path) => {
    const reason = reasonNotToPublish(path);
    return reason ? [`${path}: ${reason}`] : [];
  });
  assert.deepEqual(unwanted, []);

  const missing = ['package.json', 'README.md', ...exportTargets(), ...Object.values(MANIFEST.bin), ...expectedCopiesOf('views/admin'), ...expectedCopiesOf('public')].filter(
    (path) => !paths.includes(path),
  );
  assert.deepEqual(missing, []);
  assert.ok(paths.some((path) => /^dist\/views\/admin\/[^/]+\.ejs$/.test(path)), 'dist/views/admin/*.ejs');
  assert.ok(paths.some((path) => /^dist\/public\/[^/]+$/.test(path)), 'dist/public/*');
  for (const bin of Object.values(MANIFEST.bin)) {
    const mode = packed.files.find((file) => file.path === bin)?.mode ?? 0;
    assert.ok(mode & 0o111, `${bin} is executable (mode ${mode.toString(8)})`);
  }
});

test('installed from the tarball, it brings no development tool', async (t) => {
  // Exits non-zero on a missing or invalid dependency (a peer that does not match, say), which fails the test.
  const tree = JSON.parse(await npm(['ls', '--omit=dev', '--all', '--json'], consumerDir)) as NpmTree;
  const installed = packageNamesIn(tree);
  const ours = tree.dependencies?.[MANIFEST.name];
  assert.ok(ours, `${MANIFEST.name} is installed`);
  t.diagnostic(`runtime dependencies: ${Object.entries(ours.dependencies ?? {}).map(([name, node]) => `${name}@${node.version}`).join(', ')}`);
  t.diagnostic(`packages installed in all: ${installed.size}`);

  assert.deepEqual(DEV_ONLY_PACKAGES.filter((name) => installed.has(name)), []);
  assert.ok(!existsSync(join(consumerDir, 'node_modules', '.bin', 'tsx')), 'no tsx binary');
});

test('every module the installed dist/ imports is in the package or declared for users', () => {
  const dist = join(consumerDir, 'node_modules', MANIFEST.name, 'dist');
  const declared = new Set([...Object.keys(MANIFEST.dependencies ?? {}), ...Object.keys(MANIFEST.peerDependencies ?? {})]);
  const problems: string[] = [];
  for (const file of filesUnder(dist, (name) => name.endsWith('.js'))) {
    for (const { specifier } of importsOfFile(file)) {
      const where = `${relative(dist, file)} imports '${specifier}'`;
      // The compiled JavaScript runs under plain node: a relative import must name an existing .js file.
      if (isRelative(specifier)) {
        if (!specifier.endsWith('.js') || !existsSync(resolve(dirname(file), specifier))) problems.push(`${where}: no such file in the package`);
      } else if (!specifier.startsWith('node:') && !declared.has(packageNameOf(specifier))) {
        problems.push(`${where}: not in dependencies or peerDependencies`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('a visitor session shows on the dashboard page and in the API, and an operator ends it with the page\'s form', async () => {
  assert.ok(app);
  const visitor = new CookieJar();
  assert.deepEqual(await visit(app, visitor), { isNew: true, visitsBefore: 0 });
  assert.deepEqual(visitor.names(), ['sid', 'sid.sig'], 'the visitor gets the signed session cookie');
  // Kept in the store: the next request finds what the first wrote.
  assert.deepEqual(await visit(app, visitor), { isNew: false, visitsBefore: 1 });
  const publicId = await publicIdByInstalledPackage(consumerDir, visitor.get('sid')!);

  const listed = await sessionsInApi(app);
  assert.deepEqual(
    listed.map((session) => ({ id: session.id, keys: session.keys })),
    [{ id: publicId, keys: ['visits'] }],
    'the API lists the one visitor session, with its key names',
  );

  const operator = await signInThroughForm(app);
  const page = await send(app, DASHBOARD, { jar: operator });
  assert.equal(page.status, 200, page.body);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.ok(page.headers.get('content-security-policy'), 'the dashboard page carries a Content-Security-Policy');
  assert.ok(page.body.includes(publicId), 'the sessions page lists the visitor session');

  const endAction = `${DASHBOARD}/sessions/${encodeURIComponent(publicId)}/end`;
  const endForm = formPostingTo(page.body, endAction);
  assert.ok(endForm, `the sessions page has a form posting to ${endAction}`);
  const ended = await send(app, endAction, { jar: operator, form: { csrf: csrfFieldOf(endForm) } });
  assert.equal(ended.status, 303, ended.body);
  assert.match(ended.headers.get('location') ?? '', new RegExp(`^${DASHBOARD}\\?done=ended`));

  assert.equal(await apiListsSession(app, publicId), false, 'the ended session is gone from the API');
  assert.deepEqual(await visit(app, visitor), { isNew: true, visitsBefore: 0 }, 'the old cookie finds no session');
  // Signing in and browsing the dashboard created no visitor session: only the visitor's new one is listed.
  assert.equal((await sessionsInApi(app)).length, 1);
});

test('an operator ends a visitor session with the API\'s DELETE', async () => {
  assert.ok(app);
  const visitor = new CookieJar();
  await visit(app, visitor);
  const publicId = await publicIdByInstalledPackage(consumerDir, visitor.get('sid')!);
  assert.equal(await apiListsSession(app, publicId), true);

  const auth = `${ADMIN_USER}:${ADMIN_PASSWORD}`;
  const removed = await send(app, `${DASHBOARD}/api/sessions/${encodeURIComponent(publicId)}`, { method: 'DELETE', basicAuth: auth });
  assert.equal(removed.status, 200, removed.body);
  assert.deepEqual(JSON.parse(removed.body), { removed: 1 });
  const again = await send(app, `${DASHBOARD}/api/sessions/${encodeURIComponent(publicId)}`, { method: 'DELETE', basicAuth: auth });
  assert.equal(again.status, 404, again.body);

  assert.equal(await apiListsSession(app, publicId), false);
  assert.deepEqual(await visit(app, visitor), { isNew: true, visitsBefore: 0 }, 'the old cookie finds no session');

  const wrongPassword = await send(app, `${DASHBOARD}/api/sessions`, { basicAuth: `${ADMIN_USER}:not-the-password` });
  assert.equal(wrongPassword.status, 401, 'the API takes only the password the app configured');
});

test('the dashboard serves its assets from the package under its prefix', async () => {
  assert.ok(app);
  const css = await send(app, `${DASHBOARD}/static/admin.css`);
  assert.equal(css.status, 200, css.body);
  assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  const shipped = await readFile(join(consumerDir, 'node_modules', MANIFEST.name, 'dist', 'public', 'admin.css'), 'utf8');
  assert.equal(css.body, shipped);
  const served = (await readdir(join(consumerDir, 'node_modules', MANIFEST.name, 'dist', 'public'))).sort();
  for (const asset of served) assert.equal((await send(app, `${DASHBOARD}/static/${asset}`)).status, 200, asset);
});

test('/admin is not the dashboard when it is mounted elsewhere: the host app answers 404', async () => {
  assert.ok(app);
  for (const path of ['/admin', '/admin/login', '/admin/api/sessions']) {
    const answer = await send(app, path, { basicAuth: `${ADMIN_USER}:${ADMIN_PASSWORD}` });
    assert.equal(answer.status, 404, path);
    // Koa's own 404: the dashboard sets its security headers on every answer of its own.
    assert.equal(answer.body, 'Not Found', path);
    assert.equal(answer.headers.get('content-security-policy'), null, path);
  }
});

test('npx sessionkeeper, the installed bin, lists the sessions the app keeps in its file store', async () => {
  assert.ok(app);
  const visitor = new CookieJar();
  await visit(app, visitor);
  const publicId = await publicIdByInstalledPackage(consumerDir, visitor.get('sid')!);
  // The settings the CLI needs for the app's store. `npx --no`: the installed bin, never a download; and the
  // link npm made in node_modules/.bin run as a program (its #! line, its mode).
  const env = { ...npmEnvironment(), SESSION_STORE: 'file', SESSION_FILE_DIR: sessionDir };
  const [table, json] = await Promise.all([
    execFileAsync('npx', ['--no', 'sessionkeeper', 'sessions', 'list'], { cwd: consumerDir, env, timeout: NPM_TIMEOUT_MS }),
    execFileAsync(join(consumerDir, 'node_modules', '.bin', 'sessionkeeper'), ['sessions', 'list', '--json'], { cwd: consumerDir, env }),
  ]);
  const listed = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; keys: string[] });
  assert.deepEqual(listed.find((session) => session.id === publicId)?.keys, ['visits'], json.stdout);
  assert.match(table.stdout, /^ID +CREATED +LAST SEEN +EXPIRES +SIZE +KEYS\n/);
  assert.ok(table.stdout.includes(`\n${publicId}  `), table.stdout);
  assert.equal(json.stderr + table.stderr, '', 'nothing on stderr');
});
