/**
 * A backend switch in one test process: an "old" process still serving on
 * the previous store alone, a "new" one in transition mode whose current
 * store is hooked around inserts (to interleave another process's action with
 * a move), both stores opened apart to look at what they hold, and every
 * lifecycle event the new process records.
 */
import type { LifecycleEvent } from '../../middleware/events.ts';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { interleaved, type InterleavedStore } from './interleaved-store.ts';
import { createSessionApp, type SessionApp } from './session-app.ts';
import { createNamespace, type StoreNamespace } from './store-fixtures.ts';
import { previousOptionsOf } from './switch-fixtures.ts';

export interface SwitchScenario {
  /** A process not restarted yet: the previous store alone. */
  oldProcess: SessionApp;
  /** A process in transition mode (SESSION_STORE_PREVIOUS), its current store hooked around inserts. */
  newProcess: SessionApp;
  hooked: InterleavedStore;
  /** The two stores, opened apart from both processes. */
  previous: SessionStore;
  current: SessionStore;
  /** What the new process recorded, oldest first. */
  events: LifecycleEvent[];
  /** Closes both processes and stores and removes both namespaces. */
  close(): Promise<void>;
}

/** Two fresh namespaces, the previous and the current store of a switch, and a store opened on each (init done). */
export interface SwitchStores {
  previousNamespace: StoreNamespace;
  currentNamespace: StoreNamespace;
  previous: SessionStore;
  current: SessionStore;
  /** Closes both stores and removes both namespaces. */
  close(): Promise<void>;
}

export async function openSwitchStores(from: StoreKind, to: StoreKind): Promise<SwitchStores> {
  const previousNamespace = await createNamespace(from);
  const currentNamespace = await createNamespace(to);
  const previous = previousNamespace.open();
  const current = currentNamespace.open();
  await Promise.all([previous.init(), current.init()]);
  return {
    previousNamespace,
    currentNamespace,
    previous,
    current,
    async close() {
      await Promise.all([previous.close(), current.close()]);
      await Promise.all([previousNamespace.remove(), currentNamespace.remove()]);
    },
  };
}

/** Opens a switch from a fresh `from` store to a fresh `to` store; `storeTimeoutMs` bounds the new process's store calls. */
export async function openSwitchScenario(from: StoreKind, to: StoreKind, { storeTimeoutMs }: { storeTimeoutMs?: number } = {}): Promise<SwitchScenario> {
  const stores = await openSwitchStores(from, to);
  const oldProcess = await createSessionApp(from, { namespace: stores.previousNamespace });
  const hooked = interleaved(stores.currentNamespace.open());
  const newProcess = await createSessionApp(to, {
    namespace: stores.currentNamespace,
    sessions: previousOptionsOf(stores.previousNamespace),
    store: hooked.store,
    storeTimeoutMs,
  });
  const events: LifecycleEvent[] = [];
  newProcess.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
  return {
    oldProcess,
    newProcess,
    hooked,
    previous: stores.previous,
    current: stores.current,
    events,
    async close() {
      await Promise.all([oldProcess.close(), newProcess.close()]);
      await stores.close();
    },
  };
}
