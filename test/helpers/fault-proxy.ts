/**
 * A fault-injecting TCP proxy on 127.0.0.1 for the fault tests: point a store's
 * URL at its port, then cut the store off, slow it down or bring it back while
 * the app runs. Data is never dropped or reordered, only held back, so a
 * protocol stream that survives a fault is still a valid stream.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

/** One direction of one proxied connection: chunks held until their delivery time, in order. */
class DelayedPipe {
  readonly #queue: { chunk: Buffer; atMs: number }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly to: Socket) {}

  push(chunk: Buffer, delayMs: number): void {
    const atMs = Math.max(Date.now() + delayMs, this.#queue.at(-1)?.atMs ?? 0);
    this.#queue.push({ chunk, atMs });
    this.deliver();
  }

  /** Sends every chunk that is due; with `now`, everything held. */
  deliver(now = false): void {
    clearTimeout(this.#timer);
    while (this.#queue.length > 0 && (now || this.#queue[0]!.atMs <= Date.now())) {
      if (!this.to.destroyed) this.to.write(this.#queue.shift()!.chunk);
      else this.#queue.shift();
    }
    const next = this.#queue[0];
    if (next && Number.isFinite(next.atMs)) this.#timer = setTimeout(() => this.deliver(), next.atMs - Date.now());
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }
}

type Mode = { kind: 'forward' } | { kind: 'cut' } | { kind: 'slow'; delayMs: number };

/** The proxy: `forward` by default; `cut`, `slow` and `restore` change what it does from now on. */
export class FaultProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #pipes = new Set<DelayedPipe>();
  #mode: Mode = { kind: 'forward' };

  private constructor(private readonly target: { host: string; port: number }) {
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Starts a proxy to `target` on a free port of 127.0.0.1. */
  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    return proxy;
  }

  /** The port the proxy listens on. */
  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** Connections open through the proxy right now (each has a pipe either way). */
  get openConnections(): number {
    return this.#pipes.size / 2;
  }

  /** The store goes away: every open connection is reset and new ones are reset as soon as they arrive. */
  cut(): void {
    this.#mode = { kind: 'cut' };
    for (const socket of this.#sockets) socket.resetAndDestroy();
    for (const pipe of this.#pipes) pipe.clear();
  }

  /** The store answers late: every chunk, both ways, is held `delayMs` (Infinity: until restore). */
  slow(delayMs: number): void {
    this.#mode = { kind: 'slow', delayMs };
  }

  /** Back to normal: whatever slow held is sent now, new connections are forwarded. */
  restore(): void {
    this.#mode = { kind: 'forward' };
    for (const pipe of this.#pipes) pipe.deliver(true);
  }

  /** Stops listening and resets every connection. */
  async close(): Promise<void> {
    this.cut();
    const closed = once(this.#server, 'close');
    this.#server.close();
    await closed;
  }

  #accept(client: Socket): void {
    if (this.#mode.kind === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.target);
    const toUpstream = new DelayedPipe(upstream);
    const toClient = new DelayedPipe(client);
    const delayMs = () => (this.#mode.kind === 'slow' ? this.#mode.delayMs : 0);
    client.on('data', (chunk: Buffer) => toUpstream.push(chunk, delayMs()));
    upstream.on('data', (chunk: Buffer) => toClient.push(chunk, delayMs()));
    for (const [socket, other] of [[client, upstream], [upstream, client]] as const) {
      this.#sockets.add(socket);
      // One side going away takes the other with it, as a real connection would.
      socket.on('error', () => other.destroy());
      socket.on('close', () => {
        this.#sockets.delete(socket);
        other.destroy();
        toUpstream.clear();
        toClient.clear();
        this.#pipes.delete(toUpstream);
        this.#pipes.delete(toClient);
      });
    }
    this.#pipes.add(toUpstream).add(toClient);
  }
}
