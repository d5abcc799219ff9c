/** Bounding how long the library waits on a store. */

/**
 * Settles as `pending` does, or rejects with "no answer within N ms" once `limitMs` has passed. The timer
 * never outlives the race, and a late failure of `pending` after the timeout is dropped: whoever gave up
 * has reported the call as failed already.
 */
export async function within<T>(pending: Promise<T>, limitMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      pending.catch(() => {});
      reject(new Error(`no answer within ${limitMs} ms`));
    }, limitMs);
  });
  try {
    return await Promise.race([pending, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
