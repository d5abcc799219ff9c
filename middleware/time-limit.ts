/**
 * Bounding how long the library waits on a store. One shared watchdog checks
 * every pending call's deadline a few times a second, instead of a timer and
 * a race per call: a store call is the hot path of every request, and arming
 * and clearing a timer for each cost more than the rest of the guard
 * (bench/README.md). A call that overruns is rejected within WATCHDOG_TICK_MS
 * of its deadline.
 */

/** How often the watchdog looks at deadlines (ms): the most a timeout may come late. */
export const WATCHDOG_TICK_MS = 25;

interface Watched {
  deadline: number;
  limitMs: number;
  reject: (reason: Error) => void;
  pending: Promise<unknown>;
}

const watched = new Set<Watched>();
let watchdog: NodeJS.Timeout | undefined;

function checkDeadlines(): void {
  const now = performance.now();
  for (const call of watched) {
    if (call.deadline > now) continue;
    watched.delete(call);
    // Whoever gave up has reported the call as failed already: a late failure of it is dropped.
    call.pending.catch(() => {});
    call.reject(new Error(`no answer within ${call.limitMs} ms`));
  }
  if (watched.size === 0) {
    clearInterval(watchdog);
    watchdog = undefined;
  }
}

/**
 * Settles as `pending` does, or rejects with "no answer within N ms" once `limitMs` has passed (at most
 * WATCHDOG_TICK_MS later). The watchdog runs only while calls are pending.
 */
export function within<T>(pending: Promise<T>, limitMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const call: Watched = { deadline: performance.now() + limitMs, limitMs, reject, pending };
    watched.add(call);
    // Referenced, as a timer per call was: a call that hangs is answered (rejected) before the process may exit.
    watchdog ??= setInterval(checkDeadlines, WATCHDOG_TICK_MS);
    pending.then(
      (value) => {
        watched.delete(call);
        resolve(value);
      },
      (error: unknown) => {
        watched.delete(call);
        reject(error);
      },
    );
  });
}
