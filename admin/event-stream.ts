/**
 * Live updates of the event feed as server-sent events: one `lifecycle`
 * message per event (its JSON, plus the texts the dashboard shows), a comment
 * every so often so proxies keep the connection open, and nothing left behind
 * when a client goes away. The events come from the shared event log, so a
 * dashboard served by one process shows what every process recorded: while
 * any stream is open, one follower per dashboard polls the log (every second
 * by default) and every open stream gets what it finds.
 *
 * A stream is authenticated once, when it opens, yet sends session ids for as
 * long as it lives; so it keeps checking that its sign-in still holds. A
 * stream opened with the admin session cookie ends at once when that sign-in
 * is signed out in this process, and at the next heartbeat when the store no
 * longer holds it (signed out in another process, expired) or when it is past
 * its idle expiry, which each heartbeat reads again from the store (other
 * pages of the same sign-in move it forward). One opened with HTTP Basic ends
 * after a fixed lifetime, and the browser's EventSource reconnects with its
 * credentials, which are checked again. A client that stops reading is cut off
 * rather than buffered for without end.
 */
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { EventLog } from '../middleware/event-log/event-log.ts';
import { DEFAULT_POLL_MS, followEvents } from '../middleware/event-log/follow-events.ts';
import type { LifecycleEvent } from '../middleware/events.ts';
import type { Logger } from '../middleware/logger.ts';
import { formatTime } from '../web/format.ts';
import type { AdminSession, AdminSessions } from './admin-session.ts';
import { describeEvent, shortId } from './format.ts';

/** Keeps idle proxies from closing the connection, and bounds how long a signed-out stream lingers. */
const DEFAULT_HEARTBEAT_MS = 25_000;
const HEARTBEAT = ': still here\n\n';
/** How long a browser waits before reconnecting after the stream drops. */
const RECONNECT_MS = 5_000;
/** Open streams at once; each holds a connection. */
const DEFAULT_MAX_STREAMS = 100;
/** Unsent bytes a client that stopped reading may hold before it is cut off: a few hundred events. */
const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024;
/** A client that lags by this many allowances is cut off at once (4 MB: a few pages of a backlog in flight). */
const FAR_BEHIND_FACTOR = 64;
/** How long a client may stay over the allowance without catching up. */
const CATCH_UP_MS = 1_000;

/** Settings of the event streams; every one has a default. */
export interface EventStreamOptions {
  /**
   * When it aborts, every open stream ends and no new one opens: a stream never
   * finishes by itself, so it would otherwise hold a graceful shutdown open until its deadline.
   */
  shutdownSignal?: AbortSignal;
  /** Interval of the keep-alive comment, at which each stream also checks its sign-in again. */
  heartbeatMs?: number;
  /** Lifetime of a stream opened with HTTP Basic (default: the admin session idle time). */
  basicLifetimeMs?: number;
  /** Streams open at once; one more is refused with 503. */
  maxStreams?: number;
  /** A client with more unsent data than this, when the stream also refuses more, is too slow: its connection is closed. */
  maxBufferedBytes?: number;
  /** How often the shared event log is read for new events while a stream is open (ms). */
  pollMs?: number;
}

/** One open stream and the sign-in it was opened with. */
interface Client {
  stream: PassThrough;
  response: ServerResponse;
  /** Store id of the admin sign-in the stream was opened with; undefined for HTTP Basic. */
  signInId: string | undefined;
  /** When the stream ends at the latest: its admin session's idle expiry, or the end of the Basic lifetime. */
  endsAtMs: number;
  heartbeat: NodeJS.Timeout;
  /** Since when the client has had more than the allowance unread, and how much it had then. */
  behindSince: { atMs: number; unread: number } | undefined;
}

/** The event as recorded, plus the texts the feed shows, so the page's script formats nothing itself. */
function withDisplay(entry: LifecycleEvent) {
  return {
    ...entry,
    display: { time: formatTime(entry.at), sid: entry.sid ? shortId(entry.sid) : '', detail: describeEvent(entry) },
  };
}

/** The open event streams of one dashboard. */
export class EventStreams {
  readonly #clients = new Set<Client>();
  readonly #shutdownSignal: AbortSignal | undefined;
  readonly #heartbeatMs: number;
  readonly #basicLifetimeMs: number;
  readonly #maxStreams: number;
  readonly #maxBufferedBytes: number;
  readonly #pollMs: number;
  /** The follower of the shared log while any stream is open: aborted when the last one closes. */
  #following: AbortController | undefined;

  /**
   * @param eventLog the shared event log whose new events are sent.
   * @param adminSessions the dashboard's sign-ins: which still hold, until when, and the idle time.
   * @param logger where a log that cannot be read is noted (at debug: the page's own reads report outages).
   */
  constructor(
    private readonly eventLog: EventLog,
    private readonly adminSessions: AdminSessions,
    private readonly logger: Logger,
    options: EventStreamOptions = {},
  ) {
    adminSessions.onSignOut((signInId) => {
      for (const client of this.#clients) if (client.signInId === signInId) this.#end(client);
    });
    this.#shutdownSignal = options.shutdownSignal;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#basicLifetimeMs = options.basicLifetimeMs ?? adminSessions.idleTtlMs;
    this.#maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.#shutdownSignal?.addEventListener('abort', () => {
      for (const client of this.#clients) this.#end(client);
    }, { once: true });
  }

  /**
   * Answers the request with a stream of the lifecycle events every process records from now on.
   *
   * @param adminSession the admin session the request was authenticated with; undefined for HTTP Basic.
   */
  async open(ctx: Context, adminSession: AdminSession | undefined): Promise<void> {
    if (this.#shutdownSignal?.aborted) ctx.throw(503, 'The server is shutting down.');
    if (this.#clients.size >= this.#maxStreams) ctx.throw(503, 'Too many live event streams are open; reload the page later.');
    // Knowing where the log ends before answering: an event recorded once the stream is open is sent.
    if (!this.#following) await this.#startFollowing();
    const client: Client = {
      stream: new PassThrough(),
      response: ctx.res,
      signInId: adminSession?.id,
      endsAtMs: adminSession ? adminSession.expiresAtMs : Date.now() + this.#basicLifetimeMs,
      heartbeat: setInterval(() => void this.#heartbeat(client), this.#heartbeatMs),
      behindSince: undefined,
    };
    client.heartbeat.unref();
    this.#add(client);
    ctx.res.once('close', () => this.#end(client));

    ctx.req.socket.setNoDelay(true);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Accel-Buffering', 'no'); // nginx would otherwise hold the messages back
    ctx.type = 'text/event-stream';
    ctx.status = 200;
    ctx.body = client.stream;
    client.stream.write(`retry: ${RECONNECT_MS}\n\n`);
  }

  /** Sends one poll's events to every client, in one write each. */
  #broadcast(batch: LifecycleEvent[]): void {
    const message = batch.map((entry) => `event: lifecycle\ndata: ${JSON.stringify(withDisplay(entry))}\n\n`).join('');
    // Removing the current element of a Set while iterating it is safe.
    for (const client of this.#clients) this.#send(client, message);
  }

  /**
   * Reads the sign-in's expiry again from the store, then sends the keep-alive comment (or ends the stream).
   * A store that does not answer leaves the last known expiry in force.
   */
  async #heartbeat(client: Client): Promise<void> {
    if (client.signInId !== undefined) {
      const expiresAtMs = await this.adminSessions.expiryOf(client.signInId).catch(() => client.endsAtMs);
      client.endsAtMs = expiresAtMs ?? 0;
    }
    if (this.#clients.has(client)) this.#send(client, HEARTBEAT);
  }

  /**
   * Writes to one client whose sign-in still holds; ends it otherwise. A client with more than the
   * allowance unread is cut off once it has stayed over it for a second without catching up (it stopped
   * reading, or reads slower than events come), or at once when it lags by far more: a burst of events
   * is never held against a client that reads.
   */
  #send(client: Client, message: string): void {
    if (!this.#stillSignedIn(client)) {
      this.#end(client);
      return;
    }
    if (this.#lagsTooFar(client)) {
      // Ending would queue the end behind what the client never reads: close the connection instead.
      this.#remove(client);
      client.response.destroy();
      return;
    }
    client.stream.write(message);
  }

  #lagsTooFar(client: Client): boolean {
    const unread = client.stream.writableLength;
    if (unread <= this.#maxBufferedBytes) {
      client.behindSince = undefined;
      return false;
    }
    if (unread > this.#maxBufferedBytes * FAR_BEHIND_FACTOR) return true;
    const now = Date.now();
    if (!client.behindSince || unread < client.behindSince.unread) {
      client.behindSince = { atMs: now, unread };
      return false;
    }
    return now - client.behindSince.atMs >= CATCH_UP_MS;
  }

  #stillSignedIn(client: Client): boolean {
    return Date.now() < client.endsAtMs;
  }

  /** Ends a stream cleanly: what was sent still reaches the client. */
  #end(client: Client): void {
    this.#remove(client);
    client.stream.end();
  }

  #add(client: Client): void {
    this.#clients.add(client);
    if (!this.#following) void this.#startFollowing();
  }

  #remove(client: Client): void {
    clearInterval(client.heartbeat);
    if (!this.#clients.delete(client)) return;
    if (this.#clients.size === 0) {
      this.#following?.abort();
      this.#following = undefined;
    }
  }

  /** Follows the shared log from its current end; resolves once that end is known (or could not be read: the follower retries). */
  async #startFollowing(): Promise<void> {
    const following = new AbortController();
    this.#following = following;
    const from = await this.eventLog.readAfter(undefined, 1).then(({ position }) => position, () => undefined);
    void (async () => {
      const onError = (err: unknown) => this.logger.debug({ err }, 'live event stream: the shared event log could not be read; trying again');
      for await (const batch of followEvents(this.eventLog, { from, pollMs: this.#pollMs, signal: following.signal, onError })) {
        this.#broadcast(batch);
      }
    })();
  }
}
