/**
 * `sessionkeeper events`: the latest lifecycle events of the shared log,
 * oldest first, then (with `--follow`) every event any process records, until
 * SIGINT or SIGTERM. Following starts from the position `latest` returned, so
 * nothing recorded between the two reads is missed or shown twice.
 */
import type { LifecycleEvent } from '../middleware/events.ts';
import { followEvents } from '../middleware/event-log/follow-events.ts';
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import type { Command } from './args.ts';
import { formatEventLine, jsonLine, type Streams } from './output.ts';

export async function runEventsCommand(sessions: SessionkeeperCore, command: Extract<Command, { name: 'events' }>, { stdout, stderr }: Streams): Promise<void> {
  const write = (events: LifecycleEvent[]) => stdout.write(events.map((event) => (command.json ? jsonLine(event) : formatEventLine(event))).join(''));
  const latest = await sessions.eventLog.latest(command.limit);
  write([...latest.events].reverse());
  if (!command.follow) return;

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  // On stderr, so stdout stays the events alone; whoever waits for the follower can wait for this line.
  stderr.write('following new events (Ctrl-C to stop)\n');
  let failing = false;
  try {
    const batches = followEvents(sessions.eventLog, {
      from: latest.position,
      signal: stop.signal,
      keepAlive: true,
      // One line when the log stops answering and one when it answers again; following goes on meanwhile.
      onError: (err) => {
        if (!failing) sessions.logger.error({ err }, 'the shared event log is not answering; still trying');
        failing = true;
      },
    });
    for await (const batch of batches) {
      if (failing) sessions.logger.warn('the shared event log is answering again');
      failing = false;
      write(batch);
    }
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
