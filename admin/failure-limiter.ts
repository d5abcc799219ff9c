/** Limits on failed sign-ins per client address. */
export interface FailureLimiterOptions {
  /** Failures within `windowMs` that lock an address. */
  maxFailures: number;
  /** How far back failures count. */
  windowMs: number;
  /** How long a locked address is refused, whatever it sends. */
  lockMs: number;
  /** Most addresses remembered at once: bounds memory under a spray from many addresses. */
  maxEntries: number;
}

/** 5 failures in 5 minutes lock an address for 15 minutes. */
export const DEFAULT_FAILURE_LIMITS: FailureLimiterOptions = {
  maxFailures: 5,
  windowMs: 5 * 60_000,
  lockMs: 15 * 60_000,
  maxEntries: 10_000,
};

interface Entry {
  /** Times of the failures still inside the window, oldest first. */
  failuresAtMs: number[];
  lockedUntilMs: number;
}

/**
 * Counts failed credential checks per client address and locks an address
 * that fails too often. In-process memory, bounded: entries expire with their
 * window or lock, and beyond `maxEntries` the least recently failing address
 * is forgotten first: eviction only ever forgets failures, it never locks
 * anyone out.
 */
export class FailureLimiter {
  readonly #entries = new Map<string, Entry>();

  /** @param options the limits; 5 failures in 5 minutes lock an address for 15 minutes unless given. */
  constructor(private readonly options: FailureLimiterOptions = DEFAULT_FAILURE_LIMITS) {}

  /** Milliseconds until the address may try again; 0 when it is not locked. */
  retryAfterMs(address: string, nowMs = Date.now()): number {
    const entry = this.#entries.get(address);
    return entry && entry.lockedUntilMs > nowMs ? entry.lockedUntilMs - nowMs : 0;
  }

  /** Records one failure; returns the lock it caused (ms), or 0. */
  recordFailure(address: string, nowMs = Date.now()): number {
    const entry = this.#entries.get(address) ?? { failuresAtMs: [], lockedUntilMs: 0 };
    entry.failuresAtMs = entry.failuresAtMs.filter((at) => at > nowMs - this.options.windowMs);
    entry.failuresAtMs.push(nowMs);
    if (entry.failuresAtMs.length >= this.options.maxFailures) {
      entry.lockedUntilMs = nowMs + this.options.lockMs;
      entry.failuresAtMs = [];
    }
    // Re-inserting keeps the map ordered by latest failure, so the oldest is first to go.
    this.#entries.delete(address);
    this.#entries.set(address, entry);
    if (this.#entries.size > this.options.maxEntries) this.#prune(nowMs);
    return this.retryAfterMs(address, nowMs);
  }

  /** How many addresses are remembered. */
  get size(): number {
    return this.#entries.size;
  }

  #prune(nowMs: number): void {
    for (const [address, entry] of this.#entries) {
      const lastFailureMs = entry.failuresAtMs.at(-1) ?? 0;
      if (entry.lockedUntilMs <= nowMs && lastFailureMs <= nowMs - this.options.windowMs) this.#entries.delete(address);
    }
    for (const address of this.#entries.keys()) {
      if (this.#entries.size <= this.options.maxEntries) break;
      this.#entries.delete(address);
    }
  }
}
