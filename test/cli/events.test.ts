/**
 * `sessionkeeper events --follow` on every store: started before another
 * process records an event, it prints that event as it reaches the shared
 * log (as JSON, or as a line after the latest events), and SIGINT or SIGTERM
 * ends it with exit status 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { openSessionkeeper } from '../../middleware/sessionkeeper.ts';
import { createNamespace, STORE_KINDS, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { testServerEnv, testSessionOptions } from '../helpers/test-settings.ts';
import { formatEventLine } from '../../cli/output.ts';
import { jsonLines, startCli } from './cli-process.ts';

for (const kind of STORE_KINDS) {
  describe(`sessionkeeper events --follow on the ${kind} store`, () => {
    let namespace: StoreNamespace;

    before(async () => {
      namespace = await createNamespace(kind);
    });
    after(() => namespace.remove());

    /** Records one event in a process of the test's own, as an application would, and waits until it is in the shared log. */
    async function recordElsewhere(sid: string): Promise<LifecycleEvent> {
      const sessions = await openSessionkeeper(testSessionOptions(namespace, { logLevel: 'silent' }));
      try {
        return sessions.events.record('session.destroyed', { sid, by: 'app' });
      } finally {
        await sessions.close(); // stores the queued event first
      }
    }

    test('a follower prints what another process records after it started, until SIGINT or SIGTERM', async () => {
      const earlier = await recordElsewhere(publicIdOf(newSessionId()));
      const env = testServerEnv(namespace);
      const json = startCli(['events', '--follow', '--json', '--limit', '0'], env);
      const text = startCli(['events', '--follow'], env);
      let later: LifecycleEvent | undefined;
      try {
        // On stderr once the latest events are printed and following has begun.
        await Promise.all([json.waitFor('stderr', /^following new events \(Ctrl-C to stop\)\n$/), text.waitFor('stderr', /^following new events/)]);
        assert.equal(json.stdout(), '', '--limit 0: no earlier event');
        assert.equal(text.stdout(), formatEventLine(earlier), 'the latest events first');

        later = await recordElsewhere(publicIdOf(newSessionId()));
        await Promise.all([json.waitFor('stdout', /\n/), text.waitFor('stdout', /\n.*\n/)]);
      } finally {
        const [jsonStatus, textStatus] = await Promise.all([json.stop('SIGINT'), text.stop('SIGTERM')]);
        assert.equal(jsonStatus, 0, json.stderr());
        assert.equal(textStatus, 0, text.stderr());
      }
      assert.deepEqual(jsonLines(json.stdout()), [later]);
      assert.equal(text.stdout(), formatEventLine(earlier) + formatEventLine(later));
      assert.equal(json.stderr(), 'following new events (Ctrl-C to stop)\n', 'nothing else on stderr');
    });
  });
}
