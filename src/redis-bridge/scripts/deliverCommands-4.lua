--[[
  Picks what the owner of an agent's session should send now, fenced by the session's epoch:
  commands from the mailbox in priority-then-arrival order up to the in-flight window
  (queued ones, due retries, and ones delivered to an earlier session, which are redelivered
  with the same attempt number), and cancels requested for commands in flight on this session.
  Each picked command is marked delivered to this epoch, with a `command_delivered` event.

  Input:
    KEYS[1] agent record (hash)
    KEYS[2] agent's mailbox (zset)
    KEYS[3] events stream
    KEYS[4] command counts by state (hash)

    ARGV[1] agent id
    ARGV[2] session epoch
    ARGV[3] replica id
    ARGV[4] in-flight window
    ARGV[5] most mailbox entries examined
    ARGV[6] command record key prefix (`<prefix>:command:`)
    ARGV[7] events cap

  Output:
    { -1 } fenced: a newer session owns the agent
    { 0, ms until the next retry is due (0 = none), n, n x [id, type, payload, priority, attempt,
      correlation id, expire at], m, m x [cancel id] }
]]
--- @include "includes/now.lua"
--- @include "includes/setState.lua"

if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return { -1 } end
local now = nowMs()
local epoch, window, prefix = ARGV[2], tonumber(ARGV[4]), ARGV[6]
local ids = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[5]) - 1)

local inflight, nextDue = 0, 0
local picked, cancels = {}, {}
for _, id in ipairs(ids) do
  local key = prefix .. id
  local r = redis.call('HMGET', key, 'state', 'delivered_epoch', 'not_before', 'expire_at', 'cancel_requested', 'cancel_sent')
  local state = r[1]
  if not state then
    redis.call('ZREM', KEYS[2], id) -- the record expired: nothing left to deliver
  elseif state == 'delivered' and r[2] == epoch then
    inflight = inflight + 1
    if r[5] and r[6] ~= epoch then
      redis.call('HSET', key, 'cancel_sent', epoch)
      cancels[#cancels + 1] = id
    end
  else
    local due = state == 'queued' or (state == 'delivered' and r[2] ~= epoch)
    if state == 'retrying' then
      if tonumber(r[3]) <= now then due = true
      elseif nextDue == 0 or tonumber(r[3]) < nextDue then nextDue = tonumber(r[3]) end
    end
    -- Past its TTL and not yet in flight here: the expiry sweep dead-letters it.
    if due and tonumber(r[4]) > now and inflight + #picked / 7 < window then
      setState(key, KEYS[4], state, 'delivered')
      local attempt = redis.call('HGET', key, 'attempt')
      redis.call('HSET', key, 'delivered_epoch', epoch, 'delivered_by', ARGV[3], 'delivered_at', now)
      redis.call('HINCRBY', key, 'deliveries', 1)
      redis.call('RPUSH', key .. ':timeline', cjson.encode({ event = 'delivered', at = now, replica = ARGV[3], attempt = tonumber(attempt) }))
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'type', 'command_delivered', 'command_id', id,
        'agent_id', ARGV[1], 'replica', ARGV[3], 'attempt', attempt, 'ts', now)
      local c = redis.call('HMGET', key, 'command_type', 'payload', 'priority', 'correlation_id', 'expire_at')
      picked[#picked + 1] = id
      picked[#picked + 1] = c[1]
      picked[#picked + 1] = c[2]
      picked[#picked + 1] = c[3]
      picked[#picked + 1] = attempt
      picked[#picked + 1] = c[4]
      picked[#picked + 1] = c[5]
    end
  end
end

local out = { 0, nextDue > 0 and math.max(1, nextDue - now) or 0, #picked / 7 }
for _, v in ipairs(picked) do out[#out + 1] = v end
out[#out + 1] = #cancels
for _, v in ipairs(cancels) do out[#out + 1] = v end
return out
