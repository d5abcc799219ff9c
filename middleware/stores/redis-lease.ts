/**
 * A short lease on one Redis key (SET NX PX with a random token, given back by
 * a script that checks the token): the store's few steps that span shards (the
 * cap on live sessions, the cap per owner) take turns on one, so two processes
 * never both act on the same count. A holder that dies frees it when it lapses.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** Longer than any step under a lease takes (a few round trips), short enough that a dead holder costs little. */
const LEASE_MS = 5_000;
const RETRY_MS = 5;
const MAX_RETRY_MS = 50;

export interface LeaseCommands {
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<string | null>;
  release(key: string, token: string): Promise<unknown>;
}

/** Error of a step that waited two lease times for a lease it never got (holders keep taking it first, or Redis fails). */
export class LeaseTimeoutError extends Error {
  /** @param purpose what the lease guards, for the log: never the key, which may hold an owner's digest. */
  constructor(purpose: string) {
    super(`could not take the Redis lease for ${purpose} within ${2 * LEASE_MS} ms`);
    this.name = 'LeaseTimeoutError';
  }
}

/** Runs `step` while holding the lease `key` (guarding `purpose`), waiting (with growing pauses) while another process holds it. */
export async function underLease<T>(redis: LeaseCommands, key: string, purpose: string, step: () => Promise<T>): Promise<T> {
  const token = randomBytes(16).toString('base64url');
  const deadline = Date.now() + 2 * LEASE_MS;
  for (let pause = RETRY_MS; (await redis.set(key, token, { NX: true, PX: LEASE_MS })) === null; pause = Math.min(pause * 2, MAX_RETRY_MS)) {
    // Past the lapse of any lease taken before this call: other holders keep winning it, or Redis misbehaves.
    if (Date.now() > deadline) throw new LeaseTimeoutError(purpose);
    await sleep(pause);
  }
  try {
    return await step();
  } finally {
    await redis.release(key, token);
  }
}
