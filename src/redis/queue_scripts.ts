/**
 * Lua scripts of the work queue: every transition that touches more than one key (or must
 * check and change in one step) is one script.
 *
 * @module
 */
import { LuaScript } from "./lua_script.ts";

/**
 * Finish: record the outcome and acknowledge in one step. The first finisher wins: when the
 * entry is no longer pending (finished elsewhere, cancelled) nothing is written.
 * With a count, it also reserves the next entries for the freed slot (one round trip per task
 * for a busy worker).
 * KEYS: queue, outcomes. ARGV: group, entry id, job, sealed outcome, retention ms, wake channel,
 * consumer, count of entries to reserve (0: none).
 * Returns `{written, entries}`: written is 1, or 0 when the entry was not pending.
 */
export const QUEUE_FINISH = new LuaScript(
  "queue_finish",
  `local written = 0
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PUBLISH', ARGV[6], 'o\\n' .. ARGV[3] .. '\\n' .. ARGV[4])
  written = 1
end
local entries = {}
if tonumber(ARGV[8]) > 0 then
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[7], 'COUNT', ARGV[8], 'STREAMS',
    KEYS[1], '>')
  if r then entries = r[1][2] end
end
return {written, entries}`,
);

/**
 * Dead-letter: move a poison entry to the dead-letter stream with the reason, acknowledge it,
 * and (when its job is known) record a failed outcome so that the producer stops waiting.
 * KEYS: queue, dead, outcomes (or any key when the job is unknown).
 * ARGV: group, entry id, reason, worker, time, original fields (JSON), job or '', sealed outcome,
 * retention ms, wake channel.
 * Returns 1 when moved, 0 when the entry was not pending.
 */
export const QUEUE_DEAD_LETTER = new LuaScript(
  "queue_dead_letter",
  `if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'entry', ARGV[2], 'reason', ARGV[3], 'worker', ARGV[4],
  'time', ARGV[5], 'fields', ARGV[6])
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[7], ARGV[8])
  redis.call('PEXPIRE', KEYS[3], ARGV[9])
  redis.call('PUBLISH', ARGV[10], 'o\\n' .. ARGV[7] .. '\\n' .. ARGV[8])
end
return 1`,
);

/**
 * Lease renewal: reset the idle time of entries still pending to this consumer.
 * KEYS: queue. ARGV: group, consumer, entry ids... Returns the ids this consumer no longer owns.
 */
export const QUEUE_RENEW = new LuaScript(
  "queue_renew",
  `local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost`,
);

/**
 * Reclaim: XAUTOCLAIM entries idle for longer than the lease (their worker died or handed them
 * back), with their delivery counts.
 * KEYS: queue. ARGV: group, consumer, min idle ms, count.
 * Returns `{id, fields, deliveries}` per claimed entry.
 */
export const QUEUE_RECLAIM = new LuaScript(
  "queue_reclaim",
  `local out = {}
local cursor = '0-0'
local want = tonumber(ARGV[4])
for round = 1, 50 do
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT',
    want - #out)
  for _, e in ipairs(r[2]) do
    if type(e) == 'table' and type(e[2]) == 'table' then
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
      local d = 1
      if p[1] then d = p[1][4] end
      out[#out + 1] = {e[1], e[2], d}
    end
  end
  cursor = r[1]
  if cursor == '0-0' or #out >= want then break end
end
return out`,
);

/**
 * Hand back: give entries this consumer still holds to the hand-back consumer with a large idle
 * time, so that any worker reclaims them at once (the delivery is not counted).
 * KEYS: queue. ARGV: group, consumer, hand-back consumer, idle ms, entry ids...
 * Returns how many were handed back.
 */
export const QUEUE_HAND_BACK = new LuaScript(
  "queue_hand_back",
  `local n = 0
for i = 5, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    local d = p[1][4] - 1
    if d < 0 then d = 0 end
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[i], 'IDLE', ARGV[4],
      'RETRYCOUNT', d, 'JUSTID')
    n = n + 1
  end
end
return n`,
);

/**
 * Cancel: remove a job's entry (delivered or not) and tell the workers.
 * KEYS: queue. ARGV: group, entry id, control channel, job.
 */
export const QUEUE_CANCEL = new LuaScript(
  "queue_cancel",
  `redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
local n = redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], 'cancel\\n' .. ARGV[4])
return n`,
);

/**
 * Check waiting jobs of several runs in one step: for each job the sealed outcome when there is
 * one, '!lost' when neither the outcome nor the entry exists (Redis lost it), else '!waiting';
 * then the indexes (1-based) of the runs whose calls hash is not empty.
 * KEYS: queue, then per run: outcomes, calls. ARGV: per job: run index (1-based), job, entry id.
 * Returns `{states, runsWithCalls}`.
 */
export const QUEUE_CHECK = new LuaScript(
  "queue_check",
  `local out = {}
for i = 1, #ARGV, 3 do
  local o = redis.call('HGET', KEYS[2 * tonumber(ARGV[i])], ARGV[i + 1])
  if o then out[#out + 1] = o
  elseif #redis.call('XRANGE', KEYS[1], ARGV[i + 2], ARGV[i + 2], 'COUNT', 1) == 0 then
    out[#out + 1] = '!lost'
  else out[#out + 1] = '!waiting' end
end
local calls = {}
for r = 1, (#KEYS - 1) / 2 do
  if redis.call('HLEN', KEYS[2 * r + 1]) > 0 then calls[#calls + 1] = r end
end
return {out, calls}`,
);
