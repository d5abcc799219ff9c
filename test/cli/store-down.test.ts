/**
 * A store that does not answer: the command fails within a few seconds with
 * exit status 1 and one line saying so, never a stack and never a hang (the
 * store's calls are bounded, and so is closing it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { runCli } from './cli-process.ts';

/** Nothing listens on port 1: every connection is refused at once. */
const REDIS_DOWN = { SESSION_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' };
const POSTGRES_DOWN = { SESSION_STORE: 'postgres', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' };

test('a store that refuses connections: exit status 1 within seconds, one line of its own, no stack', async () => {
  const results = await Promise.all([
    runCli(['sessions', 'count'], REDIS_DOWN),
    runCli(['sessions', 'end', publicIdOf(newSessionId())], REDIS_DOWN),
    runCli(['events', '--follow'], REDIS_DOWN),
    runCli(['sessions', 'list', '--json'], POSTGRES_DOWN),
  ]);
  for (const [index, result] of results.entries()) {
    const store = index < 3 ? 'redis' : 'postgres';
    assert.equal(result.status, 1, result.stderr);
    assert.ok(result.ms < 8_000, `failed within ${result.ms} ms`);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trimEnd().split('\n');
    assert.match(lines.at(-1)!, new RegExp(`^sessionkeeper: The ${store} session store is not answering: .+$`));
    assert.doesNotMatch(result.stderr, /\n\s+at |"stack"/, 'no stack');
    // Before it, only the library's own log lines (LOG_LEVEL warn): the outage, each one JSON line.
    for (const line of lines.slice(0, -1)) assert.ok((JSON.parse(line) as { level: number }).level >= 40, line);
  }
});
