/**
 * The file store under fire (README, "When the store fails", "Data at rest"):
 * a server killed with SIGKILL in the middle of hundreds of uploads, and a
 * session directory that disappears or stops taking writes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServerProcess } from '../helpers/server-process.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { Visitor } from '../helpers/visitor.ts';
import { waitUntil } from '../helpers/wait.ts';

/** Upload number `version` of a visitor: its size varies, and every line names the version, so a torn write shows. */
function uploadText(visitor: number, version: number): { lines: string[]; text: string } {
  const lineCount = 1 + ((version * 7919 + visitor * 104_729) % 400);
  const lines = Array.from({ length: lineCount }, (_, k) => `visitor ${visitor} version ${version} line ${k}`);
  return { lines, text: `${lines.join('\n')}\n` };
}

/** The version an upload's lines belong to, or a failure when they are not exactly one whole upload. */
function versionOf(visitor: number, lines: string[]): number {
  const version = Number(/^visitor \d+ version (\d+) line 0$/.exec(lines[0] ?? '')?.[1]);
  assert.ok(Number.isInteger(version), `visitor ${visitor}: the first line names a version: ${lines[0]}`);
  assert.deepEqual(lines, uploadText(visitor, version).lines, `visitor ${visitor}: version ${version} is whole`);
  return version;
}

describe('the file store under fire', () => {
  let namespace: StoreNamespace;
  before(async () => {
    namespace = await createNamespace('file');
  });
  after(() => namespace?.remove());

  test('a server killed with SIGKILL during hundreds of concurrent uploads leaves every session whole: the acknowledged version or the one in flight', async () => {
    const dir = namespace.settings.fileDir!;
    const first = await startServerProcess(namespace);
    const visitorCount = 200;
    const visitors = Array.from({ length: visitorCount }, () => new Visitor(first.url));
    /** Per visitor: the last version the server acknowledged (303), and the one in flight when it died. */
    const acknowledged = new Array<number>(visitorCount).fill(0);
    const inFlight = new Array<number>(visitorCount).fill(0);
    try {
      await Promise.all(visitors.map(async (visitor, i) => assert.equal(await visitor.upload(uploadText(i, 0).text, 'v.txt'), 303)));
      let writes = 0;
      const uploading = visitors.map(async (visitor, i) => {
        for (let version = 1; ; version++) {
          inFlight[i] = version;
          try {
            if ((await visitor.upload(uploadText(i, version).text, 'v.txt')) !== 303) return;
          } catch {
            return; // the server died under this request
          }
          acknowledged[i] = version;
          writes++;
        }
      });
      await waitUntil('hundreds of uploads acknowledged', () => writes >= 200, 20_000, 5);
      await first.kill();
      await Promise.all(uploading);
    } finally {
      await first.kill();
    }

    // Every file on disk is a whole session, and every visitor's session holds a whole upload it sent.
    const second = await startServerProcess(namespace);
    try {
      const names = await readdir(dir);
      const sessionFiles = names.filter((name) => name.endsWith('.json'));
      assert.equal(sessionFiles.length, visitorCount, 'one file per session; leftover temporary files are not sessions');
      for (const name of sessionFiles) JSON.parse(await readFile(join(dir, name), 'utf8'));
      for (const [i, visitor] of visitors.entries()) {
        const reader = new Visitor(second.url);
        reader.cookies = visitor.cookies;
        const shown = await reader.read();
        assert.equal(shown.status, 200);
        const version = versionOf(i, shown.lines);
        assert.ok(version === acknowledged[i] || version === inFlight[i], `visitor ${i}: version ${version}, acknowledged ${acknowledged[i]}, in flight ${inFlight[i]}`);
      }
      assert.ok(Math.max(...acknowledged) > 0, 'uploads were acknowledged before the kill');
    } finally {
      await second.stop();
    }
  });

  describe('a session directory that stops working', () => {
    let dir: string;
    let site: ListeningTestApp;
    before(async () => {
      site = await createTestApp('file', { listen: true });
      dir = site.namespace.settings.fileDir!;
    });
    after(() => site?.close());

    test('replaced by a file: 503 pages and a clear log line naming the directory, no crash; put back: sessions served again', async () => {
      const visitor = new Visitor(site.url);
      assert.equal(await visitor.upload('kept in the directory\n', 'k.txt'), 303);

      await rename(dir, `${dir}.away`);
      await writeFile(dir, 'not a directory');
      try {
        for (const answer of await Promise.all([visitor.read(), visitor.read(), new Visitor(site.url).upload('new\n', 'n.txt').then((status) => ({ status }))])) {
          assert.equal(answer.status, 503);
        }
        assert.equal((await fetch(`${site.url}/healthz`)).status, 503);
        const down = site.logs.lines().filter((line) => line.msg === 'session store unavailable');
        assert.equal(down.length, 1, 'logged once');
        assert.equal(down[0]!.location, dir, 'the line names the directory');
        assert.equal((down[0]!.err as { code?: string }).code, 'ENOTDIR', 'and the cause');
        assert.ok(site.httpServer.listening);
      } finally {
        await rm(dir);
        await rename(`${dir}.away`, dir);
      }
      await waitUntil('/healthz answers 200 again', async () => (await fetch(`${site.url}/healthz`)).status === 200, 5_000);
      assert.deepEqual((await visitor.read()).lines, ['kept in the directory']);
    });

    test('read-only (immutable, like a full or read-only disk): 503 for what needs a write, and one log line for the whole episode, not two per request', async () => {
      const visitor = new Visitor(site.url);
      assert.equal(await visitor.upload('written before\n', 'w.txt'), 303);
      // The upload's event reaches the shared log first: an outage of the log left by the test before ends here.
      await site.sessions.events.flushed();
      const linesBefore = site.logs.lines().length;

      // chattr +i stops even root from creating, renaming or removing entries in the directory.
      execFileSync('chattr', ['+i', dir]);
      try {
        const answers: number[] = [];
        for (let round = 0; round < 5; round++) {
          answers.push(await visitor.upload(`round ${round}\n`, 'r.txt'));
          answers.push((await visitor.read()).status);
          answers.push((await fetch(`${site.url}/healthz`)).status);
          await sleep(20);
        }
        assert.ok(answers.every((status) => status === 503 || status === 200), `only 200 or 503: ${answers.join(' ')}`);
        assert.ok(answers.includes(503), 'writes are refused with 503');
        const episode = site.logs.lines().slice(linesBefore);
        const messages = episode.filter((line) => (line.level as number) >= 40 || /answering again/.test(String(line.msg))).map((line) => line.msg);
        assert.deepEqual(messages, ['session store unavailable'], 'one line for the whole episode, not one per request');
      } finally {
        execFileSync('chattr', ['-i', dir]);
      }
      assert.equal(await visitor.upload('written after\n', 'w.txt'), 303);
      assert.deepEqual((await visitor.read()).lines, ['written after']);
    });
  });
});
