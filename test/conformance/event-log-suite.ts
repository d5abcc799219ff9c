/**
 * The one conformance suite every shared event log passes, run against the
 * real backends. Several instances on the same data stand for several
 * processes; every event carries a unique sid, so "exactly once, in one
 * order" is checked event by event.
 */
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidCursorError } from '../../middleware/cursor.ts';
import { type EventLog, lastHourStart, MINUTE_MS } from '../../middleware/event-log/event-log.ts';
import type { LifecycleEvent, LifecycleEventName } from '../../middleware/events.ts';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { createNamespace } from '../helpers/store-fixtures.ts';

/** A log on fresh data, and more instances on the same data (other processes). */
export interface EventLogFixture {
  log: EventLog;
  /** Another instance over the same data, with its own client, pool or handles, as another process would have. */
  openPeer(): Promise<EventLog>;
  /** Closes what the fixture opened and removes the data. */
  cleanup(): Promise<void>;
}

/** Opens a fixture whose logs keep events `retentionMs`. */
export type OpenEventLogFixture = (retentionMs: number) => Promise<EventLogFixture>;

const DAY_MS = 24 * 60 * MINUTE_MS;

/** Fixtures for the log a store keeps (`openEventLog`): each instance on its own store, as each process has one. */
export function storeEventLogFixture(kind: StoreKind): OpenEventLogFixture {
  return async (retentionMs) => {
    const namespace = await createNamespace(kind);
    const stores: SessionStore[] = [];
    const openLog = async () => {
      const store = namespace.open();
      stores.push(store);
      await store.init();
      return store.openEventLog!(retentionMs);
    };
    return {
      log: await openLog(),
      openPeer: openLog,
      async cleanup() {
        await Promise.all(stores.map((store) => store.close()));
        await namespace.remove();
      },
    };
  };
}

/** Everything after `from`, page by page, until a read brings nothing new. */
async function readAll(log: EventLog, from: string, pageSize = 100): Promise<{ events: LifecycleEvent[]; position: string }> {
  const events: LifecycleEvent[] = [];
  let position = from;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await log.readAfter(position, pageSize);
    assert.ok(page.events.length <= pageSize, 'a page never exceeds its limit');
    events.push(...page.events);
    if (page.events.length === 0 && page.position === position) return { events, position };
    position = page.position;
  }
  throw new Error('reading did not end');
}

const sids = (events: readonly LifecycleEvent[]) => events.map((event) => event.sid);

export function runEventLogConformance(kind: StoreKind, openFixture: OpenEventLogFixture): void {
  describe(`${kind} event log conformance`, () => {
    const marker = randomBytes(4).toString('hex');
    let eventCount = 0;
    /** An event with a sid no other event has. */
    const event = (name: LifecycleEventName = 'session.created', atMs = Date.now()): LifecycleEvent => ({
      event: name,
      sid: `${marker}-${++eventCount}`,
      store: kind,
      at: new Date(atMs).toISOString(),
    });
    const batch = (size: number, name?: LifecycleEventName, atMs?: number) => Array.from({ length: size }, () => event(name, atMs));

    const opened: EventLogFixture[] = [];
    /** A fixture whose log (and peers, through `openPeer`) is initialised, cleaned up after the test. */
    const open = async (retentionMs = DAY_MS) => {
      const fixture = await openFixture(retentionMs);
      opened.push(fixture);
      await fixture.log.init();
      return {
        log: fixture.log,
        async openPeer() {
          const peer = await fixture.openPeer();
          await peer.init();
          return peer;
        },
      };
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((fixture) => fixture.cleanup()));
    });

    test('every kind of event comes back exactly as appended', async () => {
      const { log } = await open();
      const at = new Date().toISOString();
      const events: LifecycleEvent[] = [
        { event: 'session.created', sid: `${marker}-héllo-👋`, store: kind, at },
        { event: 'session.destroyed', sid: `${marker}-d`, store: kind, at, by: 'admin' },
        { event: 'session.expired', sid: `${marker}-e`, store: kind, at },
        { event: 'session.evicted', sid: `${marker}-v`, store: kind, at },
        { event: 'session.regenerated', sid: `${marker}-r`, previousSid: `${marker}-old`, store: kind, at },
        { event: 'sessions.purged', store: kind, at, by: 'admin', count: 12, scope: 'all' },
      ];
      await log.append(events);
      assert.deepEqual((await log.latest(10)).events, [...events].reverse());
    });

    test('latest gives the newest first in append order, within the limit; 0 gives only the position', async () => {
      const { log } = await open();
      const now = Date.now();
      const first = batch(5, 'session.created', now);
      // Appended later with earlier times: the log's order is the order of appends.
      const second = batch(3, 'session.destroyed', now - 30_000);
      await log.append(first);
      await log.append(second);
      const all = await log.latest(100);
      assert.deepEqual(sids(all.events), sids([...first, ...second].reverse()));
      assert.deepEqual(sids((await log.latest(3)).events), sids([...second].reverse()));
      const none = await log.latest(0);
      assert.deepEqual(none.events, []);
      assert.equal(none.position, all.position, 'the same end whatever the limit');
      assert.deepEqual((await log.readAfter(all.position, 10)).events, [], 'nothing follows the newest event');
    });

    test('a batch holding an event without a valid time is refused whole: nothing of it is written or counted', async () => {
      const { log } = await open();
      const good = batch(2);
      for (const at of ['', 'yesterday', 'NaN']) {
        await assert.rejects(log.append([...good, { ...event(), at }]), { name: 'TypeError', message: /has no valid time/ });
      }
      assert.deepEqual((await log.latest(10)).events, []);
      assert.deepEqual(await log.countSince(lastHourStart(Date.now())), {});
    });

    test('appending an empty batch changes nothing', async () => {
      const { log } = await open();
      const emptyEnd = (await log.latest(0)).position;
      await log.append([]);
      assert.equal((await log.latest(0)).position, emptyEnd);
      await log.append(batch(2));
      const before = await log.latest(10);
      const sizeBefore = await log.size();
      await log.append([]);
      assert.deepEqual(await log.latest(10), before);
      assert.equal((await log.size()).events, sizeBefore.events);
    });

    test('readAfter from latest\'s position returns exactly what was appended after it, oldest first, page by page', async () => {
      const { log } = await open();
      await log.append(batch(3));
      const { position } = await log.latest(0);
      const after = [batch(4), batch(1), batch(6)];
      for (const appended of after) await log.append(appended);
      const page = await log.readAfter(position, 4);
      assert.deepEqual(sids(page.events), sids(after[0]!), 'a page holds at most its limit');
      const rest = await readAll(log, page.position, 4);
      assert.deepEqual(sids(rest.events), sids([...after[1]!, ...after[2]!]));
      const again = await log.readAfter(rest.position, 10);
      assert.deepEqual(again, { events: [], position: rest.position }, 'at the end the position stays');
    });

    test('readAfter without a position returns no events and the end, to follow from', async () => {
      const { log } = await open();
      const onEmpty = await log.readAfter(undefined, 10);
      assert.deepEqual(onEmpty.events, []);
      const first = batch(3);
      await log.append(first);
      const start = await log.readAfter(undefined, 10);
      assert.deepEqual(start.events, []);
      const later = batch(2);
      await log.append(later);
      assert.deepEqual(sids((await readAll(log, start.position)).events), sids(later));
      assert.deepEqual(sids((await readAll(log, onEmpty.position)).events), sids([...first, ...later]), 'the end of an empty log reads from its start');
    });

    test('a position taken on one instance reads on on another', async () => {
      const { log, openPeer } = await open();
      const peer = await openPeer();
      await log.append(batch(2));
      const fromPeer = (await peer.latest(0)).position;
      const appended = batch(3);
      await peer.append(appended);
      assert.deepEqual(sids((await readAll(log, fromPeer)).events), sids(appended));
      const firstPage = await log.readAfter(fromPeer, 2);
      assert.deepEqual(sids(firstPage.events), sids(appended.slice(0, 2)));
      assert.deepEqual(sids((await peer.readAfter(firstPage.position, 10)).events), sids(appended.slice(2)));
    });

    test('instances appending at once: every event exactly once, in one order that every reader sees, live or after', async () => {
      const { log, openPeer } = await open();
      const writers = await Promise.all(Array.from({ length: 4 }, openPeer));
      const secondReader = await openPeer();
      const start = (await log.latest(0)).position;
      const batches: LifecycleEvent[][] = [];
      let writing = true;
      /** Reads as a live follower does, while the writers write, then to the end. */
      const follow = async (reader: EventLog) => {
        const seen: LifecycleEvent[] = [];
        let position = start;
        while (writing) {
          const page = await reader.readAfter(position, 7);
          seen.push(...page.events);
          position = page.position;
          if (page.events.length === 0) await sleep(2);
        }
        seen.push(...(await readAll(reader, position, 7)).events);
        return seen;
      };
      const followers = [follow(log), follow(secondReader)];
      await Promise.all(
        writers.map(async (writer) => {
          for (let i = 0; i < 50; i++) {
            const appended = batch(1 + Math.floor(Math.random() * 5));
            batches.push(appended);
            await writer.append(appended);
          }
        }),
      );
      writing = false;
      const live = await Promise.all(followers);

      const appendedSids = batches.flat().map((event) => event.sid!);
      const read = sids((await readAll(log, start)).events);
      assert.equal(read.length, appendedSids.length, 'as many events read as appended');
      assert.deepEqual(new Set(read), new Set(appendedSids), 'every event, exactly once');
      const place = new Map(read.map((sid, index) => [sid, index]));
      for (const appended of batches) {
        const places = appended.map((event) => place.get(event.sid!)!);
        assert.deepEqual(places, [...places].sort((a, b) => a - b), 'a batch keeps its order');
      }
      assert.deepEqual(sids(await readAll(secondReader, start).then((page) => page.events)), read, 'another instance reads the same order');
      assert.deepEqual(sids(live[0]!), read, 'a live follower saw each event once, in that order');
      assert.deepEqual(sids(live[1]!), read, 'so did a live follower on another instance');
      assert.deepEqual(sids((await log.latest(1000)).events).reverse(), read, 'latest shows the same order');
    });

    test('countSince counts per minute, the minute that starts at sinceMs included and the one before it not', async () => {
      const { log, openPeer } = await open();
      const now = Date.now();
      const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
      await log.append([
        event('session.created', minute - 10 * MINUTE_MS + 30_000),
        event('session.created', minute - 5 * MINUTE_MS - 1),
        event('session.destroyed', minute - 5 * MINUTE_MS),
        event('session.destroyed', minute - 5 * MINUTE_MS + 20_000),
        event('session.created', minute - 4 * MINUTE_MS - 1),
        event('session.expired', now),
      ]);
      // Tallies of one minute add up across appends and instances.
      const peer = await openPeer();
      await peer.append([event('session.expired', now)]);

      const fromFifth = { 'session.created': 1, 'session.destroyed': 2, 'session.expired': 2 };
      assert.deepEqual(await log.countSince(minute - 5 * MINUTE_MS), fromFifth);
      assert.deepEqual(await log.countSince(minute - 5 * MINUTE_MS - 1), fromFifth, 'the minute before starts before sinceMs');
      assert.deepEqual(await log.countSince(minute - 5 * MINUTE_MS + 1), { 'session.expired': 2 }, 'a minute that started before sinceMs is left out');
      assert.deepEqual(await log.countSince(minute - 6 * MINUTE_MS), { ...fromFifth, 'session.created': 2 });
      assert.deepEqual(await peer.countSince(lastHourStart(now)), { ...fromFifth, 'session.created': 3 });
      assert.deepEqual(await log.countSince(minute + MINUTE_MS), {});
    });

    test('an event appended with a time past retention is never returned, but is counted', async () => {
      const { log } = await open(MINUTE_MS);
      const start = (await log.latest(0)).position;
      const now = Date.now();
      const stale = () => event('session.expired', now - MINUTE_MS - 5_000);
      const [fresh1, fresh2] = [event('session.created', now), event('session.created', now)];
      await log.append([fresh1, stale(), fresh2, stale()]);
      assert.deepEqual(sids((await log.latest(10)).events), sids([fresh2, fresh1]));
      const page = await log.readAfter(start, 10);
      assert.deepEqual(sids(page.events), sids([fresh1, fresh2]));
      assert.equal(page.position, (await log.latest(0)).position, 'a read to the end gives the end, past the last event skipped');
      assert.deepEqual(await log.countSince(lastHourStart(now)), { 'session.created': 2, 'session.expired': 2 });
    });

    test('events past retention are never read, and trim removes them while the last hour\'s tallies stay', async () => {
      const retentionMs = 2_000;
      const { log } = await open(retentionMs);
      const start = (await log.latest(0)).position;
      const early = batch(4, 'session.created');
      await log.append(early);
      await sleep(retentionMs + 200);
      const lateAppendedAt = Date.now();
      const late = batch(3, 'session.destroyed');
      await log.append(late);

      assert.deepEqual(sids((await log.latest(100)).events), sids([...late].reverse()));
      assert.deepEqual(sids((await readAll(log, start)).events), sids(late));
      const before = await log.size();
      assert.ok(before.events > late.length, `${before.events} events held before the trim`);

      await log.trim(lateAppendedAt - 1, Date.now());
      // The file store removes whole segments (see its own tests): the early events are unread there, not yet deleted.
      if (kind !== 'file') assert.equal((await log.size()).events, late.length, 'only the late events are left');
      assert.deepEqual(sids((await readAll(log, start)).events), sids(late), 'a position from before the trim reads on');
      assert.deepEqual(sids((await log.latest(100)).events), sids([...late].reverse()));
      assert.deepEqual(await log.countSince(lastHourStart(Date.now())), { 'session.created': 4, 'session.destroyed': 3 });
    });

    test('a page thinned by events past retention reads on to fill its limit: a short page means the end', async () => {
      const { log } = await open(MINUTE_MS);
      const start = (await log.latest(0)).position;
      const fresh = batch(4);
      const stale = batch(5, 'session.created', Date.now() - 2 * MINUTE_MS);
      await log.append([fresh[0]!, ...stale, ...fresh.slice(1)]);
      const page = await log.readAfter(start, 3);
      assert.deepEqual(sids(page.events), sids(fresh.slice(0, 3)), 'full, though most of what follows the position is past retention');
      assert.deepEqual(sids((await log.readAfter(page.position, 3)).events), sids(fresh.slice(3)));
    });

    test('trim drops tallies older than both the retention and the counters\' hour', async () => {
      const { log } = await open(1_000);
      const now = Date.now();
      await log.append([event('session.created', now - 2 * 60 * MINUTE_MS), event('session.expired', now - 30 * MINUTE_MS)]);
      await log.trim(now - 1_000, now);
      assert.deepEqual(await log.countSince(now - 3 * 60 * MINUTE_MS), { 'session.expired': 1 });
      assert.deepEqual((await log.latest(10)).events, [], 'both are past retention');
    });

    test('a malformed position is refused with InvalidCursorError', async () => {
      const { log } = await open();
      await log.append(batch(1));
      const malformed = ['', 'not-a-position', '-1', '1.5', '1e3', ' 7', '7 ', '１２', 'x'.repeat(300), "0; DROP TABLE x", '0-0-0', '99999999999999999999999999'];
      for (const position of malformed) {
        await assert.rejects(log.readAfter(position, 10), InvalidCursorError, JSON.stringify(position));
      }
    });

    test('size grows with appends', async () => {
      const { log } = await open();
      const empty = await log.size();
      await log.append(batch(200));
      const grown = await log.size();
      assert.equal(grown.events, empty.events + 200);
      assert.ok(grown.bytes > empty.bytes, `${grown.bytes} bytes after, ${empty.bytes} before`);
    });
  });
}
