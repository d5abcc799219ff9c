/**
 * Following the shared event log: polls it and yields what every process
 * appended since the last read, in the log's order, each event once. Polling
 * (rather than each backend's push: keyspace notifications, LISTEN, inotify)
 * keeps one way for all stores and needs no connection of its own; a poll
 * that finds nothing costs one small read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LifecycleEvent } from '../events.ts';
import { type EventLog, MAX_EVENTS_PAGE } from './event-log.ts';

export interface FollowOptions {
  /** Position to follow from (`latest`'s or `readAfter`'s); default: the log's end when following starts. */
  from?: string;
  /** How often to read the log (ms). */
  pollMs?: number;
  /** Ends the following: the loop returns at its next step. */
  signal?: AbortSignal;
  /** Whether the wait between polls keeps the process alive (a command-line follower), or not (a server's). */
  keepAlive?: boolean;
  /** Told of each read that failed; the next poll tries again from the same position. */
  onError?: (err: unknown) => void;
}

export const DEFAULT_POLL_MS = 1_000;

/** Batches of new events, oldest first, until `signal` aborts. */
export async function* followEvents(log: EventLog, options: FollowOptions = {}): AsyncGenerator<LifecycleEvent[]> {
  const { signal, pollMs = DEFAULT_POLL_MS, keepAlive = false, onError = () => {} } = options;
  let position = options.from;
  while (!signal?.aborted) {
    try {
      if (position === undefined) {
        position = (await log.readAfter(undefined, 1)).position;
      } else {
        for (;;) {
          const page = await log.readAfter(position, MAX_EVENTS_PAGE);
          position = page.position;
          if (signal?.aborted) return;
          if (page.events.length > 0) yield page.events;
          if (page.events.length < MAX_EVENTS_PAGE) break;
          // A backlog of pages: let the sockets take what the last page sent before sending the next.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch (err) {
      onError(err);
    }
    try {
      await sleep(pollMs, undefined, { signal, ref: keepAlive });
    } catch {
      return; // aborted
    }
  }
}
