/**
 * Lua scripts of the work queue: every transition that touches more than one key (or must
 * check and change in one step) is one script.
 *
 * @module
 */
import { LuaScript } from "./lua_script.ts";
import { luaCancelWake, luaOutcomeWake } from "./wake.ts";

/** Lua: the current time in ms by the Redis clock (every process agrees on it). */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Enqueue: add the job entry and record which entry the job is (a job runs only from that
 * entry: a copy of it added again is dropped), and note the run as in progress. Idempotent: a
 * job already enqueued is not added again (so a retry after a lost reply is safe).
 * KEYS: queue, jobs, runs. ARGV: message, signature or '', job, retention ms, run id.
 * Returns the entry id.
 */
export const QUEUE_ENQUEUE = new LuaScript(
  "queue_enqueue",
  `local id = redis.call('HGET', KEYS[2], ARGV[3])
if id then return id end
if ARGV[2] == '' then id = redis.call('XADD', KEYS[1], '*', 'm', ARGV[1])
else id = redis.call('XADD', KEYS[1], '*', 'm', ARGV[1], 's', ARGV[2]) end
redis.call('HSET', KEYS[2], ARGV[3], id)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
${NOW}
redis.call('ZADD', KEYS[3], now, ARGV[5])
return id`,
);

/**
 * Admit: may this entry run its job? Not when the job has an outcome ('done'), when the job was
 * enqueued as another entry ('copy': a signed entry added again), or when the run does not know
 * the job ('unknown': forged, or its run is over). Such an entry is acknowledged and removed.
 * KEYS: queue, jobs, outcomes. ARGV: group, entry id, job.
 * Returns 'ok', 'done', 'copy' or 'unknown'.
 */
export const QUEUE_ADMIT = new LuaScript(
  "queue_admit",
  `local verdict = 'ok'
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then verdict = 'done'
else
  local e = redis.call('HGET', KEYS[2], ARGV[3])
  if not e then verdict = 'unknown' elseif e ~= ARGV[2] then verdict = 'copy' end
end
if verdict ~= 'ok' then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[1], ARGV[2])
end
return verdict`,
);

/**
 * Finish: record the outcome and acknowledge in one step. The first finisher wins: when the
 * entry is no longer pending (finished elsewhere, cancelled) nothing is written.
 * With a count, it also reserves the next entries for the freed slot and runs the admission
 * check of each ({@linkcode QUEUE_ADMIT}, read-only here): one round trip per task for a busy
 * worker. An entry passes when the run and job its message names (decoded here) have no outcome
 * and that job was enqueued as this entry; the worker uses the pass only for the same run and
 * job in the message it verified, and asks QUEUE_ADMIT otherwise.
 * KEYS: queue, outcomes. ARGV: group, entry id, job, sealed outcome, retention ms, wake channel,
 * consumer, count of entries to reserve (0: none), key prefix.
 * Returns `{written, entries, passes}`: written is 1, or 0 when the entry was not pending; per
 * entry, `run id \n job` when it passed, else ''.
 */
export const QUEUE_FINISH = new LuaScript(
  "queue_finish",
  `local written = 0
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PUBLISH', ARGV[6], ${luaOutcomeWake("ARGV[3]", "ARGV[4]")})
  written = 1
end
local entries = {}
if tonumber(ARGV[8]) > 0 then
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[7], 'COUNT', ARGV[8], 'STREAMS',
    KEYS[1], '>')
  if r then entries = r[1][2] end
end
local passes = {}
for i, e in ipairs(entries) do
  local pass = ''
  local f = e[2]
  local m
  if type(f) == 'table' then
    for k = 1, #f - 1, 2 do if f[k] == 'm' then m = f[k + 1] end end
  end
  if m then
    local ok, d = pcall(cjson.decode, m)
    if ok and type(d) == 'table' and type(d.runId) == 'string' and type(d.job) == 'string' then
      local base = ARGV[9] .. ':run:{' .. d.runId .. '}:'
      if redis.pcall('HEXISTS', base .. 'outcomes', d.job) == 0
        and redis.pcall('HGET', base .. 'jobs', d.job) == e[1] then
        pass = d.runId .. '\\n' .. d.job
      end
    end
  end
  passes[i] = pass
end
return {written, entries, passes}`,
);

/**
 * Dead-letter: move a poison entry to the dead-letter stream with the reason, acknowledge it,
 * and (when its job is known) record a failed outcome so that the producer stops waiting.
 * KEYS: queue, dead, outcomes (or any key when the job is unknown).
 * ARGV: group, entry id, reason, worker, time, original fields (JSON), job or '', sealed outcome,
 * retention ms, wake channel, dead-letter stream cap (approximate, `MAXLEN ~`).
 * Returns 1 when moved, 0 when the entry was not pending.
 */
export const QUEUE_DEAD_LETTER = new LuaScript(
  "queue_dead_letter",
  `if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[11], '*', 'entry', ARGV[2], 'reason', ARGV[3],
  'worker', ARGV[4], 'time', ARGV[5], 'fields', ARGV[6])
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[7], ARGV[8])
  redis.call('PEXPIRE', KEYS[3], ARGV[9])
  redis.call('PUBLISH', ARGV[10], ${luaOutcomeWake("ARGV[7]", "ARGV[8]")})
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
redis.call('PUBLISH', ARGV[3], ${luaCancelWake("ARGV[4]")})
return n`,
);

/**
 * Check waiting jobs of several runs in one step: for each job the sealed outcome when there is
 * one, '!lost' when neither the outcome nor the entry exists (Redis lost it), else '!waiting';
 * then the indexes (1-based) of the runs whose calls hash is not empty, and how many workers
 * announced themselves as live. The runs are noted as in progress now.
 * KEYS: queue, workers, runs, then per run: outcomes, calls.
 * ARGV: per run its id, then '', then per job: run index (1-based), job, entry id.
 * Returns `{states, runsWithCalls, liveWorkers}`.
 */
export const QUEUE_CHECK = new LuaScript(
  "queue_check",
  `${NOW}
local runs = (#KEYS - 3) / 2
for r = 1, runs do redis.call('ZADD', KEYS[3], now, ARGV[r]) end
local out = {}
for i = runs + 2, #ARGV, 3 do
  local o = redis.call('HGET', KEYS[2 + 2 * tonumber(ARGV[i])], ARGV[i + 1])
  if o then out[#out + 1] = o
  elseif #redis.call('XRANGE', KEYS[1], ARGV[i + 2], ARGV[i + 2], 'COUNT', 1) == 0 then
    out[#out + 1] = '!lost'
  else out[#out + 1] = '!waiting' end
end
local calls = {}
for r = 1, runs do
  if redis.call('HLEN', KEYS[3 + 2 * r]) > 0 then calls[#calls + 1] = r end
end
return {out, calls, redis.call('ZCOUNT', KEYS[2], now, '+inf')}`,
);

/**
 * Run finished: drop its queue bookkeeping, give its channel the retention (keys without a TTL
 * or with a longer one), and note it as no longer in progress.
 * KEYS: jobs, outcomes, calls, replies, served, channel index, runs.
 * ARGV: retention ms, channel value key base, run id.
 */
export const RUN_FINISHED = new LuaScript(
  "run_finished",
  `redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
local keep = tonumber(ARGV[1])
for _, k in ipairs(redis.call('SMEMBERS', KEYS[6])) do
  local key = ARGV[2] .. k
  local ttl = redis.call('PTTL', key)
  if ttl == -1 or ttl > keep then redis.call('PEXPIRE', key, keep) end
end
redis.call('PEXPIRE', KEYS[6], keep)
redis.call('ZREM', KEYS[7], ARGV[3])
return 1`,
);

/**
 * Runs no producer waited for during the retention (their producer died): up to 100 of them.
 * KEYS: runs. ARGV: retention ms. Returns their ids.
 */
export const RUNS_ABANDONED = new LuaScript(
  "runs_abandoned",
  `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 100)`,
);

/**
 * Heartbeat: announce a worker as live until now + ttl, forget workers whose announcement
 * expired; the set itself expires when no worker announces itself any more.
 * KEYS: workers. ARGV: worker id, ttl ms. Returns the number of live workers.
 */
export const WORKER_HEARTBEAT = new LuaScript(
  "worker_heartbeat",
  `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])`,
);
