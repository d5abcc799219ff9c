/**
 * A real store with a hook around its `insert`, so a test can make another
 * process's action (a logout, an expiry) land at an exact point of a session
 * move: just before the copy, or just after it and before the removal from
 * the previous store. Every call, the hooked one included, is the real store's.
 */
import type { SessionRecord, SessionStore } from '../../middleware/store.ts';

/** What runs around the next `insert` (each hook once, then cleared). */
export interface InsertHooks {
  before?: (id: string) => Promise<void>;
  after?: (id: string) => Promise<void>;
}

export interface InterleavedStore {
  store: SessionStore;
  /** Sets the hooks of the next insert. */
  aroundNextInsert(hooks: InsertHooks): void;
}

export function interleaved(real: SessionStore): InterleavedStore {
  let hooks: InsertHooks = {};
  const insert = async (id: string, record: SessionRecord): Promise<boolean> => {
    const { before, after } = hooks;
    hooks = {};
    await before?.(id);
    const inserted = await real.insert(id, record);
    await after?.(id);
    return inserted;
  };
  const store = new Proxy(real, {
    get(target, property) {
      if (property === 'insert') return insert;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, aroundNextInsert: (next) => (hooks = next) };
}
