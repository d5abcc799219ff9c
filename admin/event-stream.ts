/**
 * Live updates of the event feed as server-sent events: one `lifecycle`
 * message per event (its JSON, plus the texts the dashboard shows), a comment
 * every so often so proxies keep the connection open, and nothing left behind
 * when a client goes away. All open streams share one listener on the events,
 * so open dashboards never pile up listeners on the library's emitter.
 */
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { LifecycleEvent, SessionEvents } from '../middleware/events.ts';
import { describeEvent, formatTime, shortId } from './format.ts';

const HEARTBEAT_MS = 25_000;
/** How long a browser waits before reconnecting after the stream drops. */
const RECONNECT_MS = 5_000;
/** Open streams at once; each holds a connection. */
const DEFAULT_MAX_STREAMS = 100;

/** The event as recorded, plus the texts the feed shows, so the page's script formats nothing itself. */
function withDisplay(entry: LifecycleEvent) {
  return {
    ...entry,
    display: { time: formatTime(Date.parse(entry.at)), sid: entry.sid ? shortId(entry.sid) : '', detail: describeEvent(entry) },
  };
}

/** The open event streams of one dashboard. */
export class EventStreams {
  readonly #clients = new Set<PassThrough>();

  /**
   * @param shutdownSignal when it aborts, every open stream ends and no new one opens: a stream never
   *   finishes by itself, so it would otherwise hold a graceful shutdown open until its deadline.
   */
  constructor(private readonly events: SessionEvents, private readonly shutdownSignal?: AbortSignal, private readonly maxStreams = DEFAULT_MAX_STREAMS) {
    shutdownSignal?.addEventListener('abort', () => {
      for (const stream of this.#clients) stream.end();
    }, { once: true });
  }

  /** Answers the request with a stream of the lifecycle events recorded from now on. */
  open(ctx: Context): void {
    if (this.shutdownSignal?.aborted) ctx.throw(503, 'The server is shutting down.');
    if (this.#clients.size >= this.maxStreams) ctx.throw(503, 'Too many live event streams are open; reload the page later.');
    const stream = new PassThrough();
    const heartbeat = setInterval(() => stream.write(': still here\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    this.#add(stream);
    ctx.res.once('close', () => {
      clearInterval(heartbeat);
      this.#remove(stream);
      stream.end();
    });

    ctx.req.socket.setNoDelay(true);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Accel-Buffering', 'no'); // nginx would otherwise hold the messages back
    ctx.type = 'text/event-stream';
    ctx.status = 200;
    ctx.body = stream;
    stream.write(`retry: ${RECONNECT_MS}\n\n`);
  }

  #broadcast = (entry: LifecycleEvent): void => {
    const message = `event: lifecycle\ndata: ${JSON.stringify(withDisplay(entry))}\n\n`;
    for (const stream of this.#clients) stream.write(message);
  };

  #add(stream: PassThrough): void {
    this.#clients.add(stream);
    if (this.#clients.size === 1) this.events.on('event', this.#broadcast);
  }

  #remove(stream: PassThrough): void {
    this.#clients.delete(stream);
    if (this.#clients.size === 0) this.events.off('event', this.#broadcast);
  }
}
