/**
 * The README's "Switching backends", done by an operator on the upload site
 * in real processes: visitors upload on the file store; the site restarts
 * with SESSION_STORE=redis and SESSION_STORE_PREVIOUS=file; one visitor comes
 * back (their session moves with that request); `sessionkeeper migrate`
 * moves the others; the site restarts without SESSION_STORE_PREVIOUS; every
 * visitor still sees their upload, and the file store is empty.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { previousEnvOf } from '../helpers/switch-fixtures.ts';
import { testServerEnv } from '../helpers/test-settings.ts';
import { Visitor } from '../helpers/visitor.ts';
import { jsonLines, runCli } from '../cli/cli-process.ts';

describe('switching the upload site from files to Redis', () => {
  let files: StoreNamespace;
  let redis: StoreNamespace;
  let server: ServerProcess | undefined;

  before(async () => {
    files = await createNamespace('file');
    redis = await createNamespace('redis');
  });

  after(async () => {
    await server?.stop();
    await Promise.all([files.remove(), redis.remove()]);
  });

  test('every visitor keeps their upload through the switch, and nothing is left in the file store', async () => {
    server = await startServerProcess(files);
    let visitors = ['alpha', 'beta', 'gamma'].map(() => new Visitor(server!.url));
    /** The same visitors, with the cookies they hold, coming to the restarted site. */
    const comingTo = (url: string) => visitors.map((visitor) => Object.assign(new Visitor(url), { cookies: visitor.cookies }));
    await Promise.all(visitors.map((visitor, n) => visitor.upload(`line one of ${n}\nline two`, `notes-${n}.txt`).then((status) => assert.equal(status, 303))));
    await server.stop();

    // Step 1: the new store, with the old one named as previous, and a restart.
    const transition = previousEnvOf(files);
    server = await startServerProcess(redis, transition);
    visitors = comingTo(server.url);
    const back = await visitors[0]!.read();
    assert.deepEqual(back.lines, ['line one of 0', 'line two'], 'a returning visitor is not logged out');
    assert.ok(server.logs.some((line) => line.event === 'session.moved' && line.from === 'file' && line.to === 'redis'), 'their session moved with that request');

    // Step 2: the bulk migration, while the site runs.
    const migration = await runCli(['migrate', '--json'], testServerEnv(redis, transition));
    assert.equal(migration.status, 0, migration.stderr);
    const [summary] = jsonLines(migration.stdout);
    assert.deepEqual([summary!.moved, summary!.failed, summary!.leftInPrevious], [2, 0, 0]);

    // Step 3: SESSION_STORE_PREVIOUS removed, and a restart.
    await server.stop();
    server = await startServerProcess(redis);
    visitors = comingTo(server.url);
    const shown = await Promise.all(visitors.map((visitor) => visitor.read()));
    assert.deepEqual(shown.map((page) => page.lines), [0, 1, 2].map((n) => [`line one of ${n}`, 'line two']));
    assert.deepEqual((await readdir(files.settings.fileDir!)).filter((name) => name.endsWith('.json')), [], 'no session file left');
  });
});
