--[[
  Dead-letters commands past their TTL (`expired`): queued, retrying, or delivered to a
  session that no longer exists. A command in flight on a live session is looked at again
  later: the agent is working on it. Any replica may run this; Redis time decides.
  A `pick any` command still waiting for a free agent leaves the waiting list; a fan-out
  child's end moves its parent along (includes/fanoutParent.lua).
  Record, mailbox and agent keys are built from prefixes (same hash tag on Redis Cluster).

  Input:
    KEYS[1] command deadlines (zset)
    KEYS[2] events stream
    KEYS[3] dead-letter stream
    KEYS[4] command counts by state (hash)
    KEYS[5] fan-outs due (zset)
    KEYS[6] `pick any` commands waiting for an agent (zset)

    ARGV[1] command record key prefix   ARGV[6] dlq cap
    ARGV[2] mailbox key prefix          ARGV[7] dlq payload cap (bytes)
    ARGV[3] agent record key prefix     ARGV[8] replica id
    ARGV[4] most commands per call      ARGV[9] record retention after finishing (ms)
    ARGV[5] events cap                  ARGV[10] look again after (ms) for in-flight ones
                                        ARGV[11] command index key prefix (`<prefix>:idx:`)

  Output:
    number of commands dead-lettered
]]
--- @include "includes/now.lua"
--- @include "includes/stateTally.lua"
--- @include "includes/deadLetter.lua"
--- @include "includes/timeline.lua"
--- @include "includes/fanoutParent.lua"

local now, nowText = nowMs()
local expired = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))) do
  local key = ARGV[1] .. id
  local r = redis.call('HMGET', key, 'state', 'target', 'delivered_epoch', 'attempt', 'timeline', 'queued_at', 'parent_id')
  local state, target = r[1], r[2]
  local live = false
  if state == 'delivered' then
    local agent = redis.call('HMGET', ARGV[3] .. target, 'epoch', 'state')
    live = agent[1] == r[3] and agent[2] ~= 'offline'
  end
  if state ~= 'queued' and state ~= 'retrying' and state ~= 'delivered' then
    redis.call('ZREM', KEYS[1], id) -- finished or gone
  elseif live then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[10]), id)
  else
    local ttlText = redis.call('HGET', key, 'ttl_ms') or '?'
    local why = (target == '' and 'no agent matching the selector had a free slot within ttl_ms=' or 'not delivered within ttl_ms=') .. ttlText
    moveState(key, id, r[6], state, 'dead', 'dead_reason', 'expired', 'error', why, 'finished_at', nowText,
      'timeline', withStep(r[5], step('expired', nowText, ARGV[8])))
    if target == '' then redis.call('ZREM', KEYS[6], id) else redis.call('ZREM', ARGV[2] .. target, id) end
    redis.call('ZREM', KEYS[1], id)
    if r[7] then childFinished(r[7], 'dead') end
    redis.call('PEXPIRE', key, tonumber(ARGV[9]))
    local c = redis.call('HMGET', key, 'command_type', 'payload', 'priority', 'correlation_id', 'max_attempts', 'source_id', 'ttl_ms')
    local original = { 'type', 'command_issued', 'target', target, 'command_id', id, 'command_type', c[1],
      'payload', c[2], 'priority', c[3], 'correlation_id', c[4], 'max_attempts', c[5], 'ttl_ms', c[7] }
    if r[7] then original[#original + 1] = 'parent_id'; original[#original + 1] = r[7] end
    -- A `pick any` command that never found an agent can be redriven by its selector.
    if target == '' then
      original[#original + 1] = 'selector'; original[#original + 1] = redis.call('HGET', key, 'selector') or ''
      original[#original + 1] = 'pick'; original[#original + 1] = 'any'
    end
    deadLetter(KEYS[3], ARGV[6], KEYS[2], ARGV[5], original, 'expired', why, tonumber(r[4]) - 1, c[6] or '', ARGV[8], now, tonumber(ARGV[7]))
    expired = expired + 1
  end
end
flushParents({ commandPrefix = ARGV[1], due = KEYS[5], events = KEYS[2], eventsCap = ARGV[5], replica = ARGV[8],
  now = now, nowText = nowText, retention = tonumber(ARGV[9]) })
countStates(KEYS[4], ARGV[11])
return expired
