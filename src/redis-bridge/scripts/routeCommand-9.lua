--[[
  Routes one valid ingress entry in one step: records the command (deduplicated by command
  id; its timeline starts in the record), appends it to the target's mailbox, sets its TTL
  deadline, emits `command_queued`, XACKs the entry and marks the agent in its owner's wake set. Fenced: only the consumer the
  entry is pending for may route it. Delivered too often -> dead-lettered `poison` instead.
  The owner's wake set is built from ARGV[18] (same hash tag as KEYS on Redis Cluster).

  Input:
    KEYS[1] ingress stream          KEYS[6] dead-letter stream
    KEYS[2] command record (hash)   KEYS[7] command sequence counter
    KEYS[3] target's mailbox (zset) KEYS[8] command deadlines (zset)
    KEYS[4] target's agent record   KEYS[9] command counts by state (hash)
    KEYS[5] events stream

    ARGV[1] group              ARGV[10] correlation id
    ARGV[2] consumer           ARGV[11] max attempts
    ARGV[3] entry id           ARGV[12] ttl (ms)
    ARGV[4] poison threshold   ARGV[13] record retention after the TTL (ms)
    ARGV[5] command id         ARGV[14] mailbox cap
    ARGV[6] target             ARGV[15] events cap
    ARGV[7] command type       ARGV[16] dlq cap
    ARGV[8] payload            ARGV[17] dlq payload cap (bytes)
    ARGV[9] priority (1..10)   ARGV[18] replica key prefix (`<prefix>:replica:`)

  Output:
    { 'queued', owner replica or '' }
    { 'duplicate', '' }     the command id was seen before: acknowledged, nothing else
    { 'poison', '' }        dead-lettered after too many deliveries
    { 'mailbox_full', '' }  dead-lettered: the target's mailbox is at its cap
    { 'not_owner', '' }     the entry is no longer pending for this consumer: nothing done
]]
--- @include "includes/now.lua"
--- @include "includes/pendingFor.lua"
--- @include "includes/timeline.lua"
--- @include "includes/deadLetter.lua"

local deliveries = pendingFor(KEYS[1], ARGV[1], ARGV[3], ARGV[2])
if not deliveries then return { 'not_owner', '' } end
local now, nowText = nowMs()
-- The entry as a dead letter shows it (built only on the paths that dead-letter).
local function original()
  return { 'type', 'command_issued', 'target', ARGV[6], 'command_id', ARGV[5], 'command_type', ARGV[7],
    'payload', ARGV[8], 'priority', ARGV[9], 'correlation_id', ARGV[10], 'max_attempts', ARGV[11], 'ttl_ms', ARGV[12] }
end

if deliveries > tonumber(ARGV[4]) then
  deadLetter(KEYS[6], ARGV[16], KEYS[5], ARGV[15], original(), 'poison',
    'delivered ' .. deliveries .. ' times without being routed', deliveries, ARGV[3], ARGV[2], now, tonumber(ARGV[17]))
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  return { 'poison', '' }
end

if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  return { 'duplicate', '' }
end

if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[14]) then
  deadLetter(KEYS[6], ARGV[16], KEYS[5], ARGV[15], original(), 'mailbox_full',
    'mailbox of ' .. ARGV[6] .. ' holds ' .. ARGV[14] .. ' commands', 0, ARGV[3], ARGV[2], now, tonumber(ARGV[17]))
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  return { 'mailbox_full', '' }
end

-- Times and counts go to redis.call as text where they are only written (see includes/now.lua).
local id, ttl = ARGV[5], tonumber(ARGV[12])
local expireAt = tostring(now + ttl)
redis.call('HSET', KEYS[2], 'command_id', id, 'target', ARGV[6], 'command_type', ARGV[7], 'payload', ARGV[8],
  'priority', ARGV[9], 'correlation_id', ARGV[10], 'max_attempts', ARGV[11], 'ttl_ms', ARGV[12], 'expire_at', expireAt,
  'attempt', '1', 'deliveries', '0', 'handled_by', ARGV[2], 'source_id', ARGV[3], 'queued_at', nowText, 'state', 'queued',
  'timeline', step('queued', nowText, ARGV[2]))
redis.call('HINCRBY', KEYS[9], 'queued', '1')
redis.call('PEXPIRE', KEYS[2], ttl + tonumber(ARGV[13]))

-- Priority first (10 = highest sorts first), then arrival.
local seq = redis.call('INCR', KEYS[7]) % 100000000000000
redis.call('ZADD', KEYS[3], (10 - tonumber(ARGV[9])) * 100000000000000 + seq, id)
redis.call('ZADD', KEYS[8], expireAt, id)
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[15], '*', 'type', 'command_queued', 'command_id', id,
  'agent_id', ARGV[6], 'replica', ARGV[2], 'source_id', ARGV[3], 'ts', nowText)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])

local agent = redis.call('HMGET', KEYS[4], 'replica', 'state')
if agent[1] and agent[2] ~= 'offline' then
  local wake = ARGV[18] .. agent[1] .. ':wake'
  redis.call('SADD', wake, ARGV[6])
  redis.call('PEXPIRE', wake, '3600000')
  return { 'queued', agent[1] }
end
return { 'queued', '' }
