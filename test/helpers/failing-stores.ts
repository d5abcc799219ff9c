/**
 * Real stores that fail the way stores fail in production: pointed at
 * something that cannot answer, or a file store whose disk turns slow,
 * hangs or refuses writes while the test runs. Never a mock: every call that
 * is not made to fail is the real store's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lifetime, RemovedSession, SessionRecord, SessionStore, StoreKind } from '../../middleware/store.ts';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';

/** A real store of each kind pointed at something that cannot answer: a path under a file, a closed port. */
export function unreachableStore(kind: StoreKind): SessionStore {
  switch (kind) {
    case 'file': return new FileStore({ dir: '/dev/null/sessionkeeper' });
    case 'redis': return new RedisStore({ url: 'redis://127.0.0.1:1', prefix: 'sktest:down:' });
    case 'postgres': return new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', table: 'sktest_down' });
  }
}

/** The real file store, with faults the test switches on and off while it runs. */
export class FaultyFileStore extends FileStore {
  /** Every read first waits this long (ms): a slow disk. */
  readDelayMs = 0;
  /** Writes never finish: a hung disk. */
  writesHang = false;
  /** Rolling reads, which write, fail as on a read-only disk (EROFS). */
  readOnly = false;
  /** Purges answer this long after they removed their sessions (ms): the sessions are gone when the answer comes. */
  purgeDelayMs = 0;

  override async get(id: string, now: number, roll?: Lifetime): Promise<SessionRecord | undefined> {
    if (this.readOnly && roll) throw Object.assign(new Error('read-only file system'), { code: 'EROFS' });
    if (this.readDelayMs > 0) await sleep(this.readDelayMs);
    return super.get(id, now, roll);
  }

  override async update(id: string, record: SessionRecord, now: number): Promise<boolean> {
    if (this.writesHang) await new Promise(() => undefined);
    return super.update(id, record, now);
  }

  override async purgeExpired(now: number, batchSize: number): Promise<RemovedSession[]> {
    const ids = await super.purgeExpired(now, batchSize);
    if (this.purgeDelayMs > 0) await sleep(this.purgeDelayMs);
    return ids;
  }
}
