/**
 * Heap use of this process after a full garbage collection. `npm test` runs
 * without --expose-gc, so the collector is reached through V8's flag at run
 * time instead.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** heapUsed in bytes after two full collections (the second frees what the first's finalizers released). */
export function settledHeapBytes(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Bytes as MiB with one decimal, for messages and reports. */
export function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}
