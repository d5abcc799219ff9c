/**
 * Sessions put straight into a store, as the middleware would have stored
 * them, for tests of what the dashboard lists, counts and removes.
 */
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import type { SessionRecord, SessionStore } from '../../middleware/store.ts';

/** What a seeded session looks like; times are relative to now. */
export interface SeedOptions {
  /** Sessions to create. */
  count: number;
  /** Expiry of the first session from now (ms); negative for expired sessions. Each next one expires 1 s later. */
  expiresInMs?: number;
  /** How many sessions `store.create` gets at once. */
  batchSize?: number;
  data?: Record<string, unknown>;
  /** The owner of the session at each index (none where undefined or past the end). */
  owners?: readonly (string | undefined)[];
  /** Give each session device facts (`Browser/<index>`, `192.0.2.<index>`), as SESSION_TRACK_DEVICE keeps them. */
  device?: boolean;
}

/**
 * Creates sessions directly in the store (as the middleware would, keyed by
 * the public id of a fresh raw id) with distinct activity and expiry times.
 * Returns their public ids in creation order.
 */
export async function seedSessions(store: SessionStore, options: SeedOptions): Promise<string[]> {
  const { count, expiresInMs = 30 * 60_000, batchSize = 200, data = { upload: { fileName: 'notes.txt' }, theme: 'dark' }, owners = [], device = false } = options;
  const nowMs = Date.now();
  const ids = Array.from({ length: count }, () => publicIdOf(newSessionId()));
  for (let start = 0; start < count; start += batchSize) {
    await Promise.all(
      ids.slice(start, start + batchSize).map((id, offset) => {
        const index = start + offset;
        const expiresAt = nowMs + expiresInMs + index * 1000;
        const record: SessionRecord = { data, createdAt: nowMs - (count + 3600) * 1000, lastSeenAt: Math.min(nowMs, expiresAt) - (count - index) * 1000, expiresAt };
        const owner = owners[index];
        if (owner !== undefined) record.owner = owner;
        if (device) record.device = { userAgent: `Browser/${index}`, address: `192.0.2.${index}` };
        return store.create(id, record);
      }),
    );
  }
  return ids;
}

/** The ids among `ids` the store still holds, live or expired (`get` at time 0 sees every record). */
export async function idsStillStored(store: SessionStore, ids: string[]): Promise<string[]> {
  const found = await Promise.all(ids.map(async (id) => ((await store.get(id, 0)) ? id : undefined)));
  return found.filter((id): id is string => id !== undefined);
}
