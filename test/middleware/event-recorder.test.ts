/**
 * The recorder that appends lifecycle events to the shared log in the
 * background: recording never waits on the log, bursts go out as one batch in
 * order, and a log that refuses or hangs costs dropped (counted, logged once)
 * events, never a request's time. The log here is the in-memory one with a
 * switch to make it refuse or hang; the real backends' refusals are in
 * test/faults/event-log-outage.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventLog } from '../../middleware/event-log/event-log.ts';
import { EventRecorder } from '../../middleware/event-log/event-recorder.ts';
import { MemoryEventLog } from '../../middleware/event-log/memory-event-log.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { captureLogs } from '../helpers/log-capture.ts';

/** A memory log that can be told to refuse or to never answer. */
class SwitchableLog extends MemoryEventLog {
  mode: 'answer' | 'refuse' | 'hang' = 'answer';
  appends: number[] = [];

  override async append(events: readonly LifecycleEvent[]): Promise<void> {
    this.appends.push(events.length);
    if (this.mode === 'refuse') throw new Error('refused');
    if (this.mode === 'hang') return new Promise<void>(() => {});
    return super.append(events);
  }
}

let counter = 0;
const event = (): LifecycleEvent => ({ event: 'session.created', sid: `sid-${++counter}`, store: 'file', at: new Date().toISOString() });
const sidsIn = async (log: EventLog) => (await log.readAfter('0', 1000)).events.map((e) => e.sid);

describe('EventRecorder', () => {
  test('events recorded within the flush delay go out as one append, in order; recording returns at once', async () => {
    const log = new SwitchableLog(60_000);
    const recorder = new EventRecorder(log, captureLogs().logger);
    const burst = Array.from({ length: 30 }, event);
    for (const entry of burst) recorder.add(entry);
    assert.deepEqual(log.appends, [], 'nothing appended while the tick runs');
    await recorder.flushed();
    assert.deepEqual(log.appends, [30]);
    assert.deepEqual(await sidsIn(log), burst.map((e) => e.sid));
    recorder.add(event());
    await recorder.flushed();
    assert.deepEqual(log.appends, [30, 1]);
  });

  test('a refusing log: the batch is dropped and counted, the outage logged once, its end once with the loss', async () => {
    const log = new SwitchableLog(60_000);
    const logs = captureLogs();
    const dropped: number[] = [];
    const recorder = new EventRecorder(log, logs.logger, { onDropped: (count) => dropped.push(count) });
    log.mode = 'refuse';
    for (let tick = 0; tick < 3; tick++) {
      recorder.add(event());
      recorder.add(event());
      await recorder.flushed();
    }
    assert.deepEqual(dropped, [2, 2, 2]);
    assert.equal(recorder.dropped, 6);
    const outage = logs.lines().filter((line) => line.msg?.startsWith('shared event log unavailable'));
    assert.equal(outage.length, 1);
    assert.equal((outage[0]!.err as { message: string }).message, 'refused');

    log.mode = 'answer';
    const after = event();
    recorder.add(after);
    await recorder.flushed();
    const recovered = logs.lines().filter((line) => line.msg?.startsWith('shared event log answering again'));
    assert.equal(recovered.length, 1);
    assert.equal(recovered[0]!.dropped, 6);
    assert.deepEqual(await sidsIn(log), [after.sid], 'only what came after the outage is in the log');
  });

  test('a hanging log costs one timeout per burst, never the recording; what queued behind is dropped with it', async () => {
    const log = new SwitchableLog(60_000);
    const recorder = new EventRecorder(log, captureLogs().logger, { appendTimeoutMs: 100, batchSize: 10 });
    log.mode = 'hang';
    const started = performance.now();
    // add() is synchronous: it returned, so it did not wait, though the first full batch is already out, hanging.
    for (let i = 0; i < 35; i++) recorder.add(event());
    assert.deepEqual(log.appends, [10]);
    await recorder.flushed();
    assert.ok(performance.now() - started >= 100, 'the burst waited for its append\'s timeout');
    assert.deepEqual(log.appends, [10], 'one attempt for the burst, not one per batch');
    assert.equal(recorder.dropped, 35);
  });

  test('while an append hangs, at most maxQueued events wait: the oldest are dropped and counted', async () => {
    const log = new SwitchableLog(60_000);
    const recorder = new EventRecorder(log, captureLogs().logger, { appendTimeoutMs: 200, maxQueued: 50, batchSize: 10 });
    log.mode = 'hang';
    recorder.add(event());
    await new Promise((resolve) => setTimeout(resolve, 50)); // the flush delay (20 ms) is over: the first batch is out, hanging
    assert.deepEqual(log.appends, [1]);
    for (let i = 0; i < 80; i++) recorder.add(event());
    assert.equal(recorder.dropped, 30, 'the queue holds 50 at most');
    await recorder.flushed();
    assert.equal(recorder.dropped, 81);
  });
});

describe('EventRecorder batching', () => {
  test('events of separate ticks within the delay share one append; a full batch goes at once; flushed() does not wait for the delay', async () => {
    const log = new SwitchableLog(60_000);
    const recorder = new EventRecorder(log, captureLogs().logger, { flushDelayMs: 200, batchSize: 5 });
    for (let tick = 0; tick < 3; tick++) {
      recorder.add(event());
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(log.appends, [], 'waiting for more within the delay');
    for (let i = 0; i < 2; i++) recorder.add(event());
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(log.appends, [5], 'a full batch goes without waiting');
    recorder.add(event());
    const started = performance.now();
    await recorder.flushed();
    assert.deepEqual(log.appends, [5, 1]);
    assert.ok(performance.now() - started < 200, 'flushed() appends at once');
  });
});
