--[[
  Handles an ingress `command_cancel` entry, fenced like routing. A queued or retrying command
  is cancelled at once; a delivered one is flagged so its owner sends `cancel` to the agent
  (the agent's result then finishes it). The target's mailbox and agent record are built
  from ARGV[5] and ARGV[6] (same hash tag as KEYS on Redis Cluster).
  A fan-out parent stops launching (its children not started end counted as cancelled) and
  goes on the due list, where the launcher cancels its running children a chunk at a time
  (launchChildren); with none running it ends `cancelled` here. A fan-out child's end moves
  its parent along (includes/fanoutParent.lua).

  Input:
    KEYS[1] ingress stream
    KEYS[2] command record (hash)
    KEYS[3] events stream
    KEYS[4] command deadlines (zset)
    KEYS[5] command counts by state (hash)
    KEYS[6] dead-letter stream
    KEYS[7] fan-outs due (zset)
    KEYS[8] `pick any` commands waiting for an agent (zset)

    ARGV[1] group                ARGV[6] agent record key prefix
    ARGV[2] consumer             ARGV[7] events cap
    ARGV[3] entry id             ARGV[8] dlq cap
    ARGV[4] command id           ARGV[9] replica key prefix (`<prefix>:replica:`)
    ARGV[5] mailbox key prefix   ARGV[10] requested-cancels key prefix (`<prefix>:cancels:`)
    ARGV[11] wake set suffix (`:wake`)    ARGV[13] requested-cancels set TTL (ms)
    ARGV[12] wake set TTL (ms)            ARGV[14] dlq payload cap (bytes)
    ARGV[15] requested by (`<role>/<name>`, or '')
    ARGV[16] reason (or '')
    ARGV[17] command index key prefix (`<prefix>:idx:`)
    ARGV[18..] the entry's original fields

  Output:
    { 'cancelled', '' }                  was queued or retrying: now cancelled
    { 'cancel_requested', owner or '' }  delivered: the owner tells the agent
    { 'final', '' }                      already finished: acknowledged, nothing else
    { 'unknown', '' }                    no such command: dead-lettered `cancelled_undeliverable`
    { 'not_owner', '' }                  the entry is no longer pending for this consumer
]]
--- @include "includes/now.lua"
--- @include "includes/pendingFor.lua"
--- @include "includes/stateTally.lua"
--- @include "includes/deadLetter.lua"
--- @include "includes/timeline.lua"
--- @include "includes/fanoutParent.lua"

if not pendingFor(KEYS[1], ARGV[1], ARGV[3], ARGV[2]) then return { 'not_owner', '' } end
local now, nowText = nowMs()
local id = ARGV[4]
local rec = redis.call('HMGET', KEYS[2], 'state', 'target', 'timeline', 'queued_at', 'fanout', 'parent_id')
local state, target = rec[1], rec[2]
-- The timeline step's detail: who asked and why, when known.
local by = ARGV[15] ~= '' and ('by ' .. ARGV[15]) or nil
if ARGV[16] ~= '' then by = by and (by .. ': ' .. ARGV[16]) or ARGV[16] end

if not state then
  local original = {}
  for i = 18, #ARGV do original[#original + 1] = ARGV[i] end
  deadLetter(KEYS[6], ARGV[8], KEYS[3], ARGV[7], original, 'cancelled_undeliverable',
    'no command ' .. id .. ' to cancel', 0, ARGV[3], ARGV[2], now, tonumber(ARGV[14]))
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  return { 'unknown', '' }
end

redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
-- The record key is the command prefix and the id.
local F = { commandPrefix = string.sub(KEYS[2], 1, #KEYS[2] - #id), due = KEYS[7], events = KEYS[3],
  eventsCap = ARGV[7], replica = ARGV[2], now = now, nowText = nowText }
if rec[5] == '1' then
  local p = readParent(KEYS[2])
  if PARENT_DONE[state] or p.cancelRequested then return { 'final', '' } end
  p.cancelRequested = tostring(now)
  p.notStarted = p.matched - p.launched
  p.timeline = withStep(rec[3], step('cancel_requested', nowText, ARGV[2], nil, by))
  redis.call('HSET', KEYS[2], 'cancel_requested', p.cancelRequested, 'not_started', p.notStarted,
    'stop_reason', 'cancelled' .. (by and (' (' .. by .. ')') or ''), 'timeline', p.timeline)
  if p.finished >= p.launched then
    finishParent(F, id, KEYS[2], p)
    countStates(KEYS[5], ARGV[17])
    return { 'cancelled', '' }
  end
  redis.call('ZADD', KEYS[7], now, id)
  return { 'cancel_requested', '' }
end
if state == 'queued' or state == 'retrying' then
  moveState(KEYS[2], id, rec[4], state, 'cancelled', 'finished_at', nowText, 'error', 'cancelled before delivery',
    'timeline', withStep(rec[3], step('cancelled', nowText, ARGV[2], nil, by)))
  if target == '' then redis.call('ZREM', KEYS[8], id) else redis.call('ZREM', ARGV[5] .. target, id) end
  redis.call('ZREM', KEYS[4], id)
  if rec[6] then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'type', 'command_cancelled', 'command_id', id,
      'agent_id', target, 'replica', ARGV[2], 'by', ARGV[15], 'parent_id', rec[6], 'ts', now)
    childFinished(rec[6], 'cancelled')
    flushParents(F)
  else
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'type', 'command_cancelled', 'command_id', id,
      'agent_id', target, 'replica', ARGV[2], 'by', ARGV[15], 'ts', now)
  end
  countStates(KEYS[5], ARGV[17])
  return { 'cancelled', '' }
end
if state == 'delivered' then
  redis.call('HSET', KEYS[2], 'cancel_requested', now,
    'timeline', withStep(rec[3], step('cancel_requested', nowText, ARGV[2], nil, by)))
  local cancels = ARGV[10] .. target
  redis.call('SADD', cancels, id)
  redis.call('PEXPIRE', cancels, ARGV[13])
  local owner = redis.call('HGET', ARGV[6] .. target, 'replica')
  if owner then
    local wake = ARGV[9] .. owner .. ARGV[11]
    redis.call('SADD', wake, target)
    redis.call('PEXPIRE', wake, ARGV[12])
    return { 'cancel_requested', owner }
  end
  return { 'cancel_requested', '' }
end
return { 'final', '' }
