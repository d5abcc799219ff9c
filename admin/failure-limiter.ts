/**
 * Counts failed credential checks in the configured store, so every process
 * and a restart see them: per client address (a guesser), and per account (a
 * guesser spread over many addresses). Each count is its own record with its
 * own expiry, so failures from other addresses never make the store forget
 * or unlock an address.
 */
import { createHash } from 'node:crypto';
import type { CounterRule, SessionStore } from '../middleware/store.ts';

/** The limits of one kind of counter. */
export interface FailureLimits {
  /** Failures within the window that lock. */
  maxFailures: number;
  /** How far back failures count, from the first one. */
  windowMs: number;
  /** How long a lock lasts from the failure that caused it, whatever is sent meanwhile. */
  lockMs: number;
}

/** The limits per address and per account. */
export interface FailureLimiterOptions {
  perAddress: FailureLimits;
  perAccount: FailureLimits;
}

/**
 * 5 failures within 5 minutes lock an address for 15 minutes; 100 failures
 * within an hour, from anywhere, lock the account for an hour: at most about
 * a hundred guesses an hour, however many addresses an attacker has.
 */
export const DEFAULT_FAILURE_LIMITS: FailureLimiterOptions = {
  perAddress: { maxFailures: 5, windowMs: 5 * 60_000, lockMs: 15 * 60_000 },
  perAccount: { maxFailures: 100, windowMs: 60 * 60_000, lockMs: 60 * 60_000 },
};

/** Which lock refuses a request, and for how long more. */
export interface Lock {
  scope: 'address' | 'account';
  retryAfterMs: number;
}

/** Failed sign-ins per address and per account, and the locks they cause. */
export class FailureLimiter {
  readonly #addressRule: CounterRule;
  readonly #accountRule: CounterRule;

  /**
   * @param store where the counts live: a namespace of the configured store.
   * @param options the limits; DEFAULT_FAILURE_LIMITS unless given.
   */
  constructor(private readonly store: SessionStore, private readonly options: FailureLimiterOptions = DEFAULT_FAILURE_LIMITS) {
    this.#addressRule = ruleOf(options.perAddress);
    this.#accountRule = ruleOf(options.perAccount);
  }

  /** The lock that refuses `address` signing in to `account` now, if any (the longer one when both do). */
  async lockOf(address: string, account: string, nowMs = Date.now()): Promise<Lock | undefined> {
    const [byAddress, byAccount] = await Promise.all([
      this.store.get(counterId('address', address), nowMs),
      this.store.get(counterId('account', account), nowMs),
    ]);
    const locks: Lock[] = [];
    if (byAddress && Number(byAddress.data.count) >= this.options.perAddress.maxFailures) locks.push({ scope: 'address', retryAfterMs: byAddress.expiresAt - nowMs });
    if (byAccount && Number(byAccount.data.count) >= this.options.perAccount.maxFailures) locks.push({ scope: 'account', retryAfterMs: byAccount.expiresAt - nowMs });
    return locks.sort((a, b) => b.retryAfterMs - a.retryAfterMs)[0];
  }

  /** Records one failure of `address` on `account`; returns the lock it caused, if any. */
  async recordFailure(address: string, account: string, nowMs = Date.now()): Promise<Lock | undefined> {
    const [byAddress, byAccount] = await Promise.all([
      this.store.increment(counterId('address', address), nowMs, this.#addressRule),
      this.store.increment(counterId('account', account), nowMs, this.#accountRule),
    ]);
    if (byAccount.count >= this.options.perAccount.maxFailures) return { scope: 'account', retryAfterMs: byAccount.expiresAt - nowMs };
    if (byAddress.count >= this.options.perAddress.maxFailures) return { scope: 'address', retryAfterMs: byAddress.expiresAt - nowMs };
    return undefined;
  }
}

function ruleOf(limits: FailureLimits): CounterRule {
  return { windowMs: limits.windowMs, limit: limits.maxFailures, holdMs: limits.lockMs };
}

/** The store id of a counter: a digest, so neither an address nor a user name is kept or used as a key as it is. */
function counterId(scope: 'address' | 'account', value: string): string {
  return createHash('sha256').update(`sessionkeeper failures\0${scope}\0${value}`, 'utf8').digest('base64url');
}
