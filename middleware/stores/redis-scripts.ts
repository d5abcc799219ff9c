/**
 * The Redis store's Lua scripts. Each runs inside one shard (redis-layout.ts)
 * and names every key it touches: KEYS are the shard's expiry index, activity
 * index, owner map, owner activity index and owner expiry index, then the
 * hashes of the sessions it reads or writes. Each is atomic and one round trip.
 */
import { createHash } from 'node:crypto';

export interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

/** The padded score of an owner-index member (see LIB): 15 digits keep ms timestamps in numeric order. */
export function ownerIndexMember(digest: string, score: number, id: string): string {
  return `${digest}:${String(score).padStart(15, '0')}:${id}`;
}

/**
 * Lua shared by the shard scripts. A session is a hash (fields c, l, e, d, and o, v for an owned session's
 * owner and device) in the shard's expiry index and activity index (sorted sets of ids). An owned session is
 * also in the owner map (id → the owner's SHA-256 digest, 64 hex characters, followed by the owner), which
 * outlives the hash's native expiry so the purge always finds its owner entries, and in the owner indexes:
 * one sorted set per shard for activity and one for expiry, whose members `<digest>:<score, 15 digits>:<id>`
 * all score 0, so one owner's sessions are a range in order of time (ZRANGE BYLEX) under fixed key names.
 */
const LIB = `
local EXP, ACT, OWN, OACT, OEXP = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local function member(digest, score, id)
  return digest .. ':' .. string.format('%015d', tonumber(score)) .. ':' .. id
end
-- Out of its owner's indexes, read while the session's scores are still in the shard's two indexes.
local function unindexOwner(id, link)
  local digest = string.sub(link, 1, 64)
  local l, e = redis.call('ZSCORE', ACT, id), redis.call('ZSCORE', EXP, id)
  if l then redis.call('ZREM', OACT, member(digest, l, id)) end
  if e then redis.call('ZREM', OEXP, member(digest, e, id)) end
end
-- Into the indexes at these times (an owned session's owner entries moved from where they were).
local function indexSession(id, link, lastSeen, expires)
  if link then
    local digest = string.sub(link, 1, 64)
    unindexOwner(id, link)
    redis.call('ZADD', OACT, 0, member(digest, lastSeen, id))
    redis.call('ZADD', OEXP, 0, member(digest, expires, id))
  end
  redis.call('ZADD', EXP, expires, id)
  redis.call('ZADD', ACT, lastSeen, id)
end
-- The hash and every index entry; how many keys and entries it removed, and the owner (false for none).
local function removeSession(key, id)
  local link = redis.call('HGET', OWN, id)
  if link then
    unindexOwner(id, link)
    redis.call('HDEL', OWN, id)
  end
  local removed = redis.call('DEL', key) + redis.call('ZREM', EXP, id) + redis.call('ZREM', ACT, id)
  return removed, link and string.sub(link, 65)
end
-- A new session at KEYS[6], replacing any with its id. ARGV: id, created, lastSeen, expires, data, dropAt,
-- owner ('' for none), owner digest, device JSON ('' for none).
local function writeSession(a)
  local key, id = KEYS[6], a[1]
  removeSession(key, id)
  redis.call('HSET', key, 'c', a[2], 'l', a[3], 'e', a[4], 'd', a[5])
  local link = false
  if a[7] ~= '' then
    link = a[8] .. a[7]
    redis.call('HSET', key, 'o', a[7])
    if a[9] ~= '' then redis.call('HSET', key, 'v', a[9]) end
    redis.call('HSET', OWN, id, link)
  end
  redis.call('PEXPIREAT', key, a[6])
  indexSession(id, link, a[3], a[4])
end
`;

/** create: the hash, its native expiry and its index entries, in one step. */
export const CREATE = script(`${LIB}
writeSession(ARGV)
return 1`);

/** insert: create's writes, only when no hash (live, or expired within its grace) holds the id. */
export const INSERT = script(`${LIB}
if redis.call('EXISTS', KEYS[6]) == 1 then return 0 end
writeSession(ARGV)
return 1`);

/** destroy: the hash and every index entry; the number of keys and entries removed. ARGV: id. */
export const DESTROY = script(`${LIB}
return (removeSession(KEYS[6], ARGV[1]))`);

/**
 * update: writes only while the session exists and is unexpired, so a destroyed session never comes back.
 * ARGV: id, now, expires, lastSeen, pexpireat, then the hash fields to set.
 */
export const WRITE_IF_LIVE = script(`${LIB}
local key, id = KEYS[6], ARGV[1]
local e = redis.call('HGET', key, 'e')
if not e or tonumber(e) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', key, unpack(ARGV, 6))
redis.call('PEXPIREAT', key, ARGV[5])
indexSession(id, redis.call('HGET', OWN, id), ARGV[4], ARGV[3])
return 1`);

/**
 * get with a rolling refresh: reads a live session and, when it is due (last rolled ARGV[6] ms ago or more),
 * moves its last-seen time and expiry in the same atomic step (expiryOf in Lua); a session not due is only
 * read, a missing or expired one neither returned nor written.
 * ARGV: id, now, idleTtlMs, absoluteTtlMs, grace, touchAfterMs.
 */
export const GET_AND_ROLL = script(`${LIB}
local key, id = KEYS[6], ARGV[1]
local f = redis.call('HMGET', key, 'c', 'l', 'e', 'd', 'o', 'v')
local now = tonumber(ARGV[2])
if not f[3] or tonumber(f[3]) <= now then return nil end
if now - tonumber(f[2]) < tonumber(ARGV[6]) then return f end
local e = now + tonumber(ARGV[3])
if tonumber(ARGV[4]) > 0 then e = math.min(e, tonumber(f[1]) + tonumber(ARGV[4])) end
local l, ex = ARGV[2], string.format('%d', e)
redis.call('HSET', key, 'l', l, 'e', ex)
redis.call('PEXPIREAT', key, string.format('%d', e + tonumber(ARGV[5])))
indexSession(id, f[5] and redis.call('HGET', OWN, id), l, ex)
return {f[1], l, ex, f[4], f[5], f[6]}`);

/**
 * The purge, the evictions and ending an owner's sessions: removes each given id (its hash at KEYS[5 + i])
 * whose expiry in the index is, by ARGV[1], at or before ARGV[2] ('expired'), after it ('live') or anything
 * ('any'). Atomic, so when several processes remove the same ids each is returned once. Returns id, owner
 * ('' for none), id, owner…
 */
export const REMOVE_IDS = script(`${LIB}
local mode, now = ARGV[1], tonumber(ARGV[2])
local removed = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local e = redis.call('ZSCORE', EXP, id)
  if e and (mode == 'any' or (mode == 'live') == (tonumber(e) > now)) then
    -- A live entry whose hash Redis dropped by itself (maxmemory eviction) names no session: its entries go, unreported.
    local gone = mode == 'live' and redis.call('EXISTS', KEYS[i + 3]) == 0
    local _, owner = removeSession(KEYS[i + 3], id)
    if not gone then
      removed[#removed + 1] = id
      removed[#removed + 1] = owner or ''
    end
  end
end
return removed`);

/**
 * increment: one more hit on a counter record (its count also in field n, so nothing decodes JSON). A missing
 * or lapsed counter restarts at 1 with a fresh window; the hit that reaches the limit holds it longer.
 * KEYS: the shard's expiry and activity indexes, the counter's hash. ARGV: id, now, windowMs, limit, holdMs, grace.
 */
export const INCREMENT = script(`
local key = KEYS[3]
local f = redis.call('HMGET', key, 'c', 'e', 'n')
local now = tonumber(ARGV[2])
local created, e, count = now, now + tonumber(ARGV[3]), 1
if f[2] and tonumber(f[2]) > now and f[3] then
  created, e, count = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]) + 1
end
if count == tonumber(ARGV[4]) then e = math.max(e, now + tonumber(ARGV[5])) end
local ex = string.format('%d', e)
redis.call('HSET', key, 'c', string.format('%d', created), 'l', ARGV[2], 'e', ex, 'n', count, 'd', '{"count":' .. count .. '}')
redis.call('PEXPIREAT', key, string.format('%d', e + tonumber(ARGV[6])))
redis.call('ZADD', KEYS[1], ex, ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {count, ex}`);

/**
 * One shard's share of a page of an index (KEYS[1], the expiry or activity index; KEYS[2] the expiry
 * index): up to ARGV[2] ids live at ARGV[1] by their expiry, strictly after the cursor (ARGV[4] score,
 * ARGV[5] id), ascending or (ARGV[3] 'desc') descending. Equal scores are ordered by id in byte order, as
 * Redis orders them; the cursor's place among them is found by binary search over ranks, so a large group
 * of equal scores is never read whole. Returns id, score, id, score…
 */
export const INDEX_PAGE = script(`
local function less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function rankPast(key, score, id, orEqual)
  local lo = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  local hi = lo + redis.call('ZCOUNT', key, score, score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local member = redis.call('ZRANGE', key, mid, mid)[1]
    if less(member, id) or (orEqual and member == id) then lo = mid + 1 else hi = mid end
  end
  return lo
end
local key, now, want, desc = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == 'desc'
local pos
if desc then pos = redis.call('ZCARD', key) - 1 else pos = redis.call('ZCOUNT', key, '-inf', ARGV[1]) end
if ARGV[4] then
  local rank = rankPast(key, ARGV[4], ARGV[5], not desc)
  if desc then pos = math.min(pos, rank - 1) else pos = math.max(pos, rank) end
end
local rows, found = {}, 0
while found < want and pos >= 0 do
  local lo, hi = pos, pos + want - 1
  if desc then lo, hi = math.max(0, pos - want + 1), pos end
  local batch = redis.call('ZRANGE', key, lo, hi, 'WITHSCORES')
  if #batch == 0 then break end
  local first, last, step = 1, #batch - 1, 2
  if desc then first, last, step = #batch - 1, 1, -2 end
  for i = first, last, step do
    if found == want then break end
    local e = redis.call('ZSCORE', KEYS[2], batch[i])
    if e and tonumber(e) > now then
      rows[#rows + 1] = batch[i]
      rows[#rows + 1] = batch[i + 1]
      found = found + 1
    end
  end
  if desc then pos = lo - 1 else pos = hi + 1 end
end
return rows`);

/**
 * One shard's share of a page of one owner's sessions: up to ARGV[3] ids of the owner (digest ARGV[1]) live
 * at ARGV[2] by their expiry, from the owner index KEYS[1] (activity or expiry; KEYS[2] the expiry index),
 * ascending or (ARGV[4] 'desc') descending, strictly after the cursor member ARGV[5]. Returns id, score…
 */
export const OWNER_PAGE = script(`
local index, digest, now, want, desc = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == 'desc'
local low, high = '[' .. digest .. ':', '(' .. digest .. ';'
if ARGV[5] then
  if desc then high = '(' .. ARGV[5] else low = '(' .. ARGV[5] end
end
local rows, found = {}, 0
while found < want do
  local batch
  if desc then
    batch = redis.call('ZRANGE', index, high, low, 'BYLEX', 'REV', 'LIMIT', 0, want)
  else
    batch = redis.call('ZRANGE', index, low, high, 'BYLEX', 'LIMIT', 0, want)
  end
  for _, m in ipairs(batch) do
    local score, id = string.match(m, '^%x+:(%d+):(.*)$')
    local e = redis.call('ZSCORE', KEYS[2], id)
    if found < want and e and tonumber(e) > now then
      rows[#rows + 1] = id
      rows[#rows + 1] = score
      found = found + 1
    end
  end
  if #batch < want then break end
  if desc then high = '(' .. batch[#batch] else low = '(' .. batch[#batch] end
end
return rows`);

/** Gives a lease back, only when it is still the caller's (its token): a late caller never frees another's. */
export const RELEASE_LEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

export const ALL_SCRIPTS = [CREATE, INSERT, DESTROY, WRITE_IF_LIVE, GET_AND_ROLL, REMOVE_IDS, INCREMENT, INDEX_PAGE, OWNER_PAGE, RELEASE_LEASE];
