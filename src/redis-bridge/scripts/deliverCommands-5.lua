--[[
  Picks what the owner of an agent's session should send now, fenced by the session's epoch.
  The agent record keeps an exact count of commands in flight on the current session
  (`inflight`: reset when a session starts, +1 here per pick, -1 when a result arrives), so
  this walks the mailbox's ready band (includes/mailboxBands.lua) only until the free slots
  are filled: never the whole backlog, never what is already in flight. Picked, in
  priority-then-arrival order: queued commands, due retries, and commands delivered to an
  earlier session (connectAgent moved them back; redelivered with the same attempt number;
  one whose cancel was requested meanwhile is finished as cancelled instead). Each pick moves
  to the in-flight band and emits `command_delivered`. Cancels requested for commands in
  flight here are returned once.

  Input:
    KEYS[1] agent record (hash)
    KEYS[2] agent's mailbox (zset)
    KEYS[3] events stream
    KEYS[4] command counts by state (hash)
    KEYS[5] agent's requested cancels (set)

    ARGV[1] agent id
    ARGV[2] session epoch
    ARGV[3] replica id
    ARGV[4] in-flight window
    ARGV[5] most mailbox entries examined
    ARGV[6] command record key prefix (`<prefix>:command:`)
    ARGV[7] events cap

  Output:
    { -1 } fenced: a newer session owns the agent
    { 0, ms until a retry seen on the way is due (0 = none), n, n x [id, type, payload,
      priority, attempt, correlation id, expire at], m, m x [cancel id] }
]]
--- @include "includes/now.lua"
--- @include "includes/stateTally.lua"
--- @include "includes/mailboxBands.lua"
--- @include "includes/timeline.lua"

local agent = redis.call('HMGET', KEYS[1], 'epoch', 'inflight')
if agent[1] ~= ARGV[2] then return { -1 } end
local now, nowText = nowMs()
local epoch, prefix = ARGV[2], ARGV[6]

local cancels = {}
local requested = redis.call('SMEMBERS', KEYS[5])
for _, id in ipairs(requested) do
  local r = redis.call('HMGET', prefix .. id, 'state', 'delivered_epoch')
  if r[1] == 'delivered' and r[2] == epoch then cancels[#cancels + 1] = id end
end
if #requested > 0 then redis.call('DEL', KEYS[5]) end

local free = tonumber(ARGV[4]) - tonumber(agent[2] or '0')
local picked, nextDue = {}, 0
if free > 0 then
  local ready = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. IN_FLIGHT, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[5]))
  for _, id in ipairs(ready) do
    if #picked / 7 >= free then break end
    local key = prefix .. id
    local r = redis.call('HMGET', key, 'state', 'delivered_epoch', 'not_before', 'expire_at', 'cancel_requested',
      'command_type', 'payload', 'priority', 'correlation_id', 'attempt', 'deliveries', 'timeline')
    local state = r[1]
    if not state then
      redis.call('ZREM', KEYS[2], id) -- the record expired: nothing left to deliver
    elseif state == 'delivered' and r[2] ~= epoch and r[5] then
      -- Cancelled while its session was gone: the agent never hears of it again.
      moveState(key, state, 'cancelled', 'finished_at', nowText, 'error', 'cancelled',
        'timeline', withStep(r[12], step('cancelled', nowText, ARGV[3])))
      redis.call('ZREM', KEYS[2], id)
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'type', 'command_cancelled', 'command_id', id,
        'agent_id', ARGV[1], 'replica', ARGV[3], 'ts', nowText)
    elseif state == 'delivered' and r[2] == epoch then
      -- Already sent on this session (a mailbox written before the bands): file it as in flight.
      redis.call('ZINCRBY', KEYS[2], IN_FLIGHT, id)
    else
      local due = state == 'queued' or state == 'delivered'
      if state == 'retrying' then
        if tonumber(r[3]) <= now then due = true
        elseif nextDue == 0 or tonumber(r[3]) < nextDue then nextDue = tonumber(r[3]) end
      end
      -- Past its TTL and not in flight here: the expiry sweep dead-letters it.
      if due and tonumber(r[4]) > now then
        moveState(key, state, 'delivered', 'delivered_epoch', epoch, 'delivered_by', ARGV[3], 'delivered_at', nowText,
          'deliveries', tostring((tonumber(r[11]) or 0) + 1),
          'timeline', withStep(r[12], step('delivered', nowText, ARGV[3], r[10])))
        redis.call('ZINCRBY', KEYS[2], IN_FLIGHT, id)
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'type', 'command_delivered', 'command_id', id,
          'agent_id', ARGV[1], 'replica', ARGV[3], 'attempt', r[10], 'ts', nowText)
        picked[#picked + 1] = id
        picked[#picked + 1] = r[6]
        picked[#picked + 1] = r[7]
        picked[#picked + 1] = r[8]
        picked[#picked + 1] = r[10]
        picked[#picked + 1] = r[9]
        picked[#picked + 1] = r[4]
      end
    end
  end
  if #picked > 0 then redis.call('HINCRBY', KEYS[1], 'inflight', #picked / 7) end
end
countStates(KEYS[4])

local out = { 0, nextDue > 0 and math.max(1, nextDue - now) or 0, #picked / 7 }
for _, v in ipairs(picked) do out[#out + 1] = v end
out[#out + 1] = #cancels
for _, v in ipairs(cancels) do out[#out + 1] = v end
return out
