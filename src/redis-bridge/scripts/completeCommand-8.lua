--[[
  Applies an agent's result, fenced by the session's epoch. Success or cancellation finishes
  the command. A failure is retried with exponential backoff until `max_attempts`; then (or
  at once when permanent) it is dead-lettered `failed` with the last error. A result for a
  finished command or an older attempt is ignored (redeliveries make duplicates normal).

  Input:
    KEYS[1] command record (hash)    KEYS[5] events stream
    KEYS[2] command timeline (list)  KEYS[6] dead-letter stream
    KEYS[3] agent's mailbox (zset)   KEYS[7] command deadlines (zset)
    KEYS[4] agent record (hash)      KEYS[8] command counts by state (hash)

    ARGV[1] command id       ARGV[9]  permanent (1/0)
    ARGV[2] agent id         ARGV[10] attempt
    ARGV[3] session epoch    ARGV[11] retry base delay (ms)
    ARGV[4] replica id       ARGV[12] retry delay cap (ms)
    ARGV[5] outcome: succeeded | failed | cancelled
    ARGV[6] output           ARGV[13] record retention after finishing (ms)
    ARGV[7] error            ARGV[14] events cap
    ARGV[8] duration (ms)    ARGV[15] dlq cap
                             ARGV[16] dlq payload cap (bytes)
    ARGV[17] 1 when the agent's ack was held back to be recorded here (timeline `acked`)

  Output:
    { 1, 0 }           finished (succeeded, cancelled or dead-lettered)
    { 2, retry in ms } failed; retrying after that delay
    { 0, 0 }           ignored (already finished, other attempt, or not this agent's)
    { -1, 0 }          fenced: a newer session owns the agent
]]
--- @include "includes/now.lua"
--- @include "includes/setState.lua"
--- @include "includes/deadLetter.lua"

if redis.call('HGET', KEYS[4], 'epoch') ~= ARGV[3] then return { -1, 0 } end
local r = redis.call('HMGET', KEYS[1], 'state', 'target', 'attempt', 'max_attempts', 'delivered_epoch')
local state = r[1]
if state ~= 'delivered' or r[2] ~= ARGV[2] or r[3] ~= ARGV[10] then return { 0, 0 } end
-- It leaves this session's window (a command delivered to an earlier session never counted).
if r[5] == ARGV[3] and tonumber(redis.call('HINCRBY', KEYS[4], 'inflight', -1)) < 0 then
  redis.call('HSET', KEYS[4], 'inflight', 0)
end

local now = nowMs()
local id, outcome, attempt = ARGV[1], ARGV[5], tonumber(ARGV[10])
local retention = tonumber(ARGV[13])
redis.call('HSET', KEYS[1], 'output', ARGV[6], 'error', ARGV[7], 'duration_ms', ARGV[8])
if ARGV[17] == '1' then
  redis.call('HSET', KEYS[1], 'acked_at', now)
  redis.call('RPUSH', KEYS[2], cjson.encode({ event = 'acked', at = now, replica = ARGV[4], attempt = attempt }))
end
redis.call('RPUSH', KEYS[2], cjson.encode({ event = outcome, at = now, replica = ARGV[4], attempt = attempt, detail = string.sub(ARGV[7], 1, 200) }))

-- Finishes the command; `eventType` nil when a dead letter emits the event instead.
local function finish(newState, eventType)
  setState(KEYS[1], KEYS[8], state, newState)
  redis.call('HSET', KEYS[1], 'finished_at', now)
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[7], id)
  redis.call('PEXPIRE', KEYS[1], retention)
  redis.call('PEXPIRE', KEYS[2], retention)
  if eventType then
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[14], '*', 'type', eventType, 'command_id', id,
      'agent_id', ARGV[2], 'replica', ARGV[4], 'attempt', attempt, 'ts', now)
  end
end

if outcome == 'succeeded' then
  finish('succeeded', 'command_succeeded')
  return { 1, 0 }
end
if outcome == 'cancelled' then
  finish('cancelled', 'command_cancelled')
  return { 1, 0 }
end

redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[14], '*', 'type', 'command_failed', 'command_id', id,
  'agent_id', ARGV[2], 'replica', ARGV[4], 'attempt', attempt, 'error', string.sub(ARGV[7], 1, 200), 'ts', now)
if ARGV[9] == '1' or attempt >= tonumber(r[4]) then
  finish('failed', nil)
  redis.call('HSET', KEYS[1], 'dead_reason', 'failed')
  local c = redis.call('HMGET', KEYS[1], 'command_type', 'payload', 'priority', 'correlation_id', 'max_attempts', 'source_id')
  local original = { 'type', 'command_issued', 'target', ARGV[2], 'command_id', id, 'command_type', c[1],
    'payload', c[2], 'priority', c[3], 'correlation_id', c[4], 'max_attempts', c[5] }
  deadLetter(KEYS[6], ARGV[15], KEYS[5], ARGV[14], original, 'failed', ARGV[7], attempt, c[6] or '', ARGV[4], now, tonumber(ARGV[16]))
  return { 1, 0 }
end

local delay = math.min(tonumber(ARGV[12]), tonumber(ARGV[11]) * 2 ^ (attempt - 1))
local retryAt = now + math.floor(delay)
setState(KEYS[1], KEYS[8], state, 'retrying')
redis.call('HSET', KEYS[1], 'attempt', attempt + 1, 'not_before', retryAt)
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[14], '*', 'type', 'command_retrying', 'command_id', id,
  'agent_id', ARGV[2], 'replica', ARGV[4], 'attempt', attempt + 1, 'retry_at', retryAt, 'ts', now)
return { 2, math.floor(delay) }
