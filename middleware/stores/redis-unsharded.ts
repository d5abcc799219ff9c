/**
 * Sessions of the layout before shards (sessionkeeper 0.1: a hash
 * `<prefix>s:<id>` indexed by `<prefix>exp` and `<prefix>act`, an owner's in
 * `<prefix>o:<digest>:act|exp` and `<prefix>own`), moved into their shards when
 * a store starts on a single Redis or a Sentinel primary, so that upgrading
 * signs nobody out. That layout never ran on a cluster. Each session is
 * inserted where its shard wants it (never over a newer copy), then its old
 * keys go; several processes starting at once move each session once. A
 * session an older process writes meanwhile is moved at the next start.
 */
import type { RedisStoreClient } from './redis-connection.ts';
import type { RedisLayout } from './redis-layout.ts';
import type { DeviceFacts, SessionRecord } from '../store.ts';

const BATCH = 500;

/** Moves every session of the old layout under `layout.prefix`; how many it moved. */
export async function moveUnshardedSessions(redis: RedisStoreClient, layout: RedisLayout, insert: (id: string, record: SessionRecord) => Promise<boolean>): Promise<number> {
  const { prefix } = layout;
  const expiryIndex = `${prefix}exp`;
  let moved = 0;
  for (;;) {
    const ids = await redis.zRange(expiryIndex, 0, BATCH - 1);
    if (ids.length === 0) return moved;
    const fields = await Promise.all(ids.map((id) => redis.hmGet(`${prefix}s:${id}`, ['c', 'l', 'e', 'd', 'o', 'v'])));
    const links = await redis.hmGet(`${prefix}own`, ids);
    for (const [i, id] of ids.entries()) {
      const [c, l, e, d, o, v] = fields[i]!;
      // A hash Redis dropped by itself (its grace past) leaves only index entries: nothing to move.
      if (c && l && e && d && (await insert(id, recordOf(c, l, e, d, o, v)))) moved++;
    }
    const removal = redis.multi();
    for (const [i, id] of ids.entries()) {
      removal.del(`${prefix}s:${id}`).zRem(expiryIndex, id).zRem(`${prefix}act`, id);
      const link = links[i];
      if (link) removal.zRem(`${prefix}o:${link.slice(0, 64)}:act`, id).zRem(`${prefix}o:${link.slice(0, 64)}:exp`, id).hDel(`${prefix}own`, id);
    }
    await removal.exec();
  }
}

function recordOf(c: string, l: string, e: string, d: string, owner: string | null | undefined, device: string | null | undefined): SessionRecord {
  const record: SessionRecord = { data: JSON.parse(d), createdAt: Number(c), lastSeenAt: Number(l), expiresAt: Number(e) };
  if (owner) record.owner = owner;
  if (device) record.device = JSON.parse(device) as DeviceFacts;
  return record;
}
