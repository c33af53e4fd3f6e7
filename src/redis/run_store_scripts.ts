/**
 * Lua scripts of `redisRunStore()`: each change of a run record is one script, which checks the
 * lease and fencing token, keeps the indexes (all runs, by status, by flow, leases, retries) in
 * step, and announces the change. A record's control fields (status, owner, lease, fence, times)
 * are JSON in the hash field `rec`, which the scripts decode (cjson); its values (`input`,
 * `output`, `error`, `checkpoints`) are JSON in their own fields, stored verbatim (cjson cannot
 * tell an empty array from an empty object).
 *
 * Shared helpers (prepended to each script): `rec(KEYS[1])` reads a record, `put(...)` writes it
 * back and moves it between status indexes, `final(status)` tells the statuses a run never
 * leaves. ARGV[1] is always the key prefix, ARGV[2] the time (ms), ARGV[3] the time (ISO).
 *
 * @module
 */
import { LuaScript } from "./lua_script.ts";

const HELPERS = `
local P, NOW, ISO = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local function rec(key)
  local s = redis.call('HGET', key, 'rec')
  if not s then return nil end
  return cjson.decode(s)
end
local function final(status)
  return status == 'completed' or status == 'failed' or status == 'cancelled' or status == 'terminated'
end
local function announce(id)
  redis.call('PUBLISH', P .. ':run-events', 'run\\n' .. id)
end
local function put(key, r, before)
  r.updatedAt = ISO
  if r.owner == nil then r.owner = cjson.null end
  redis.call('HSET', key, 'rec', cjson.encode(r))
  if before ~= r.status then
    redis.call('ZREM', P .. ':rindex:status:' .. before, r.runId)
    redis.call('ZADD', P .. ':rindex:status:' .. r.status, r.createdMs, r.runId)
  end
  if r.owner ~= cjson.null and r.leaseUntil ~= cjson.null and r.leaseUntil then
    redis.call('ZADD', P .. ':rleases', r.leaseUntil, r.runId)
  else
    redis.call('ZREM', P .. ':rleases', r.runId)
  end
  if r.retryRequested then redis.call('SADD', P .. ':rretry', r.runId)
  else redis.call('SREM', P .. ':rretry', r.runId) end
  announce(r.runId)
end
local function owns(r, owner, fence)
  return r.owner == owner and tonumber(r.fence) == tonumber(fence)
end
local function fenced(r)
  if r.owner == cjson.null or r.owner == nil then return 'FENCED\\n\\n' .. r.fence end
  return 'FENCED\\n' .. r.owner .. '\\n' .. r.fence
end
`;

function script(name: string, body: string): LuaScript {
  return new LuaScript(name, HELPERS + body);
}

/**
 * Create. KEYS: record, idempotency key (or the record again). ARGV: prefix, now, iso, control
 * JSON, graph JSON, has key (1/0), input JSON. Returns `{1}` created, `{0, runId}` for the key's
 * run, `{-1}` when the id exists.
 */
export const STORE_CREATE = script(
  "store_create",
  `if ARGV[6] == '1' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local r = cjson.decode(ARGV[4])
redis.call('HSET', KEYS[1], 'rec', ARGV[4], 'graph', ARGV[5], 'input', ARGV[7], 'checkpoints', '[]')
if ARGV[6] == '1' then redis.call('SET', KEYS[2], r.runId) end
redis.call('ZADD', P .. ':rindex:all', r.createdMs, r.runId)
redis.call('ZADD', P .. ':rindex:status:' .. r.status, r.createdMs, r.runId)
redis.call('ZADD', P .. ':rindex:flow:' .. r.flow, r.createdMs, r.runId)
if r.leaseUntil and r.leaseUntil ~= cjson.null then
  redis.call('ZADD', P .. ':rleases', r.leaseUntil, r.runId)
end
announce(r.runId)
return {1}`,
);

/**
 * Acquire. KEYS: record. ARGV: prefix, now, iso, owner, lease ms. Takes a queued run, a run
 * whose lease expired, a failed run marked for retry, or a waiting run whose feedback request
 * has an answer. Returns the new fence, or 0.
 */
export const STORE_ACQUIRE = script(
  "store_acquire",
  `local r = rec(KEYS[1])
if not r then return 0 end
local free = r.owner == cjson.null or r.owner == nil or r.leaseUntil == cjson.null or
  r.leaseUntil == nil or tonumber(r.leaseUntil) < NOW
local ok = r.status == 'queued' or (r.status == 'running' and free) or
  (r.status == 'failed' and r.retryRequested and free)
if not ok and r.status == 'waiting' and free and r.feedback and r.feedback ~= cjson.null then
  ok = redis.call('HEXISTS', P .. ':feedback:{' .. r.feedback.id .. '}', 'response') == 1
end
if not ok then return 0 end
r.owner = ARGV[4]
r.leaseUntil = NOW + tonumber(ARGV[5])
r.fence = tonumber(r.fence) + 1
put(KEYS[1], r, r.status)
return r.fence`,
);

/**
 * Renew. KEYS: record. ARGV: prefix, now, iso, owner, fence, lease ms. Returns the record JSON,
 * or false when the lease was lost.
 */
export const STORE_RENEW = script(
  "store_renew",
  `local r = rec(KEYS[1])
if not r or not owns(r, ARGV[4], ARGV[5]) then return false end
r.leaseUntil = NOW + tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'rec', cjson.encode(r))
redis.call('ZADD', P .. ':rleases', r.leaseUntil, r.runId)
return cjson.encode(r)`,
);

/** Release. KEYS: record. ARGV: prefix, now, iso, owner, fence. */
export const STORE_RELEASE = script(
  "store_release",
  `local r = rec(KEYS[1])
if not r or not owns(r, ARGV[4], ARGV[5]) then return 0 end
r.owner = cjson.null
r.leaseUntil = cjson.null
put(KEYS[1], r, r.status)
return 1`,
);

/**
 * Append. KEYS: record, journal. ARGV: prefix, now, iso, owner, fence, first seq, entries...
 * Returns 'OK', 'FENCED\\n<owner>\\n<fence>', 'SEQ\\n<length>' or 'MISSING'.
 */
export const STORE_APPEND = script(
  "store_append",
  `local r = rec(KEYS[1])
if not r then return 'MISSING' end
if not owns(r, ARGV[4], ARGV[5]) then return fenced(r) end
local len = redis.call('LLEN', KEYS[2])
if len ~= tonumber(ARGV[6]) - 1 then return 'SEQ\\n' .. len end
for i = 7, #ARGV, 1000 do redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
local last = tonumber(ARGV[6]) + #ARGV - 7
redis.call('PUBLISH', P .. ':run-events', 'journal\\n' .. r.runId .. '\\n' .. ARGV[6] .. '\\n' .. last)
return 'OK'`,
);

/**
 * Snapshot. KEYS: record, snapshot. ARGV: prefix, now, iso, owner, fence, snapshot JSON.
 * Returns 'OK', 'FENCED…' or 'MISSING'.
 */
export const STORE_SNAPSHOT = script(
  "store_snapshot",
  `local r = rec(KEYS[1])
if not r then return 'MISSING' end
if not owns(r, ARGV[4], ARGV[5]) then return fenced(r) end
redis.call('SET', KEYS[2], ARGV[6])
return 'OK'`,
);

/**
 * Update. KEYS: record, journal, snapshot. ARGV: prefix, now, iso, owner, fence, control patch
 * JSON, retention ms, first journal position, number of journal entries n, the n sealed entries,
 * then value field / JSON pairs stored verbatim. The entries are appended first (as
 * `store_append` does). A final status ends the lease and starts the retention of the run's
 * keys. Returns {control JSON, input, output, error, checkpoints}, 'FENCED…', 'SEQ…' or
 * 'MISSING'.
 */
export const STORE_UPDATE = script(
  "store_update",
  `local r = rec(KEYS[1])
if not r then return 'MISSING' end
if not owns(r, ARGV[4], ARGV[5]) then return fenced(r) end
local n, first = tonumber(ARGV[9]), tonumber(ARGV[8])
if n > 0 then
  local len = redis.call('LLEN', KEYS[2])
  if len ~= first - 1 then return 'SEQ\\n' .. len end
  for i = 10, 9 + n, 1000 do redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, 9 + n))) end
  redis.call('PUBLISH', P .. ':run-events', 'journal\\n' .. r.runId .. '\\n' .. first .. '\\n' .. (first + n - 1))
end
local before = r.status
local patch = cjson.decode(ARGV[6])
for k, v in pairs(patch) do r[k] = v end
for i = 10 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if final(r.status) then
  r.owner = cjson.null
  r.leaseUntil = cjson.null
  r.cancelRequested = nil
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
end
put(KEYS[1], r, before)
local v = redis.call('HMGET', KEYS[1], 'input', 'output', 'error', 'checkpoints')
return {cjson.encode(r), v[1], v[2], v[3], v[4]}`,
);

/**
 * Cancel. KEYS: record, journal, snapshot. ARGV: prefix, now, iso, retention ms. Returns the
 * record JSON, 'MISSING', or 'FINISHED\\n<status>'.
 */
export const STORE_CANCEL = script(
  "store_cancel",
  `local r = rec(KEYS[1])
if not r then return 'MISSING' end
if final(r.status) and not (r.status == 'failed' and r.retryRequested) then
  return 'FINISHED\\n' .. r.status
end
local before = r.status
local live = r.owner ~= cjson.null and r.owner ~= nil and r.leaseUntil ~= cjson.null and
  tonumber(r.leaseUntil) >= NOW
if live then
  r.cancelRequested = true
else
  r.status = 'cancelled'
  r.finishedAt = ISO
  r.owner = cjson.null
  r.leaseUntil = cjson.null
  r.retryRequested = nil
  r.cancelRequested = nil
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
end
put(KEYS[1], r, before)
return cjson.encode(r)`,
);

/**
 * Retry. KEYS: record, journal, snapshot. ARGV: prefix, now, iso. Returns the record JSON,
 * 'MISSING', or 'NOTFAILED\\n<status>'.
 */
export const STORE_RETRY = script(
  "store_retry",
  `local r = rec(KEYS[1])
if not r then return 'MISSING' end
if r.status ~= 'failed' then return 'NOTFAILED\\n' .. r.status end
r.retryRequested = true
for i = 1, 3 do redis.call('PERSIST', KEYS[i]) end
put(KEYS[1], r, r.status)
return cjson.encode(r)`,
);
