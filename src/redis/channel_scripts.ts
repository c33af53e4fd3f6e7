/**
 * Lua scripts of the Redis channel. A channel key is a Redis string (an encoded value) or a Redis
 * list whose first element is an empty header (so that an empty list can exist); the run's index
 * set holds the channel keys.
 *
 * @module
 */
import { LuaScript } from "./lua_script.ts";

/** KEYS: value. Returns `{'v', text}`, `{'l', items}` or nil. */
export const CHANNEL_GET = new LuaScript(
  "channel_get",
  `local t = redis.call('TYPE', KEYS[1]).ok
if t == 'string' then return {'v', redis.call('GET', KEYS[1])} end
if t == 'list' then return {'l', redis.call('LRANGE', KEYS[1], 1, -1)} end
return false`,
);

/** KEYS: index, value. ARGV: key, kind ('v'|'l'), ttlMs or '', items... */
export const CHANNEL_SET = new LuaScript(
  "channel_set",
  `redis.call('DEL', KEYS[2])
if ARGV[2] == 'v' then
  if ARGV[3] == '' then redis.call('SET', KEYS[2], ARGV[4])
  else redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3]) end
else
  redis.call('RPUSH', KEYS[2], '')
  local n = #ARGV
  local i = 4
  while i <= n do
    local j = math.min(i + 999, n)
    redis.call('RPUSH', KEYS[2], unpack(ARGV, i, j))
    i = j + 1
  end
  if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
end
redis.call('SADD', KEYS[1], ARGV[1])
return 1`,
);

/** KEYS: index, value. ARGV: key. Returns how many keys were removed. */
export const CHANNEL_DELETE = new LuaScript(
  "channel_delete",
  `local n = redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
return n`,
);

/** KEYS: index, value. ARGV: key, encoded item. Returns the new length or an error. */
export const CHANNEL_APPEND = new LuaScript(
  "channel_append",
  `local t = redis.call('TYPE', KEYS[2]).ok
if t == 'none' then
  redis.call('RPUSH', KEYS[2], '', ARGV[2])
  redis.call('SADD', KEYS[1], ARGV[1])
  return 1
end
if t ~= 'list' then return redis.error_reply('GRAFLOW_NOT_LIST') end
return redis.call('RPUSH', KEYS[2], ARGV[2]) - 1`,
);

/**
 * KEYS: index, value. ARGV: key, by. Adds with IEEE doubles like JS, keeps the TTL, and writes
 * the sum with 17 significant digits (which JSON.parse reads back as the same double);
 * non-finite and negative-zero sums are written as the codec's tagged numbers.
 */
export const CHANNEL_INCREMENT = new LuaScript(
  "channel_increment",
  `local INF = '{"$type":"Number","value":"Infinity"}'
local NINF = '{"$type":"Number","value":"-Infinity"}'
local NAN = '{"$type":"Number","value":"NaN"}'
local NZERO = '{"$type":"Number","value":"-0"}'
local t = redis.call('TYPE', KEYS[2]).ok
local cur = 0
if t == 'string' then
  local s = redis.call('GET', KEYS[2])
  if s == INF then cur = math.huge
  elseif s == NINF then cur = -math.huge
  elseif s == NAN then cur = 0 / 0
  elseif s == NZERO then cur = tonumber('-0')
  elseif string.match(s, '^-?%d[%d.eE+-]*$') then cur = tonumber(s)
  else cur = nil end
  if cur == nil then return redis.error_reply('GRAFLOW_NOT_NUMBER') end
elseif t ~= 'none' then
  return redis.error_reply('GRAFLOW_NOT_NUMBER')
end
local n = cur + tonumber(ARGV[2])
local out
if n ~= n then out = NAN
elseif n == math.huge then out = INF
elseif n == -math.huge then out = NINF
elseif n == 0 and 1 / n < 0 then out = NZERO
else out = string.format('%.17g', n) end
if t == 'none' then
  redis.call('SET', KEYS[2], out)
  redis.call('SADD', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[2], out, 'KEEPTTL')
end
return out`,
);

/** KEYS: index. ARGV: value key base. Returns the live keys (drops expired ones from the index). */
export const CHANNEL_KEYS = new LuaScript(
  "channel_keys",
  `local live = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. k) == 1 then live[#live + 1] = k
  else redis.call('SREM', KEYS[1], k) end
end
return live`,
);

/** KEYS: index. ARGV: value key base. Removes every key of the channel. */
export const CHANNEL_CLEAR = new LuaScript(
  "channel_clear",
  `for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('DEL', ARGV[1] .. k) end
redis.call('DEL', KEYS[1])
return 1`,
);

/** KEYS: index. ARGV: value key base. Returns `{key, kind, data, pttl}` for every live key. */
export const CHANNEL_DUMP = new LuaScript(
  "channel_dump",
  `local out = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. k
  local t = redis.call('TYPE', key).ok
  if t == 'string' then
    out[#out + 1] = {k, 'v', redis.call('GET', key), redis.call('PTTL', key)}
  elseif t == 'list' then
    out[#out + 1] = {k, 'l', redis.call('LRANGE', key, 1, -1), redis.call('PTTL', key)}
  end
end
return out`,
);
