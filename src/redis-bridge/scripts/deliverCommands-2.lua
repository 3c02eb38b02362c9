--[[
  Picks what this replica should send now to each of a batch of agents it holds, each fenced
  by its session's epoch. An agent record keeps an exact count of commands in flight on the
  current session (`inflight`: reset when a session starts, +1 per pick here, -1 when a
  result arrives), and picked commands move from the mailbox to the agent's in-flight set,
  so each mailbox is walked only until the free slots are filled, never past the backlog
  or the commands in flight. Picked, in priority-then-arrival order: queued commands, due retries, and
  commands delivered to an earlier session (redelivered with the same attempt number; one
  whose cancel was requested meanwhile is finished as cancelled instead). Each pick adds a
  timeline step and emits `command_delivered`. Cancels requested for commands in flight on
  the session are returned once. Agent records, mailboxes, in-flight sets, cancel sets and
  command records are built from the ARGV prefixes (same hash tag as KEYS on Redis Cluster).

  Input:
    KEYS[1] events stream
    KEYS[2] command counts by state (hash)

    ARGV[1] replica id                ARGV[4] mailbox key prefix
    ARGV[2] command record key prefix ARGV[5] requested-cancels key prefix
    ARGV[3] agent record key prefix   ARGV[6] events cap
                                      ARGV[7] in-flight set key prefix
    ARGV[8..] per agent, 4 values: agent id, session epoch, in-flight window,
              most mailbox entries examined

  Output, per agent in order:
    -1 (fenced: a newer session owns the agent), or
    0, ms until a retry seen on the way is due (0 = none), n, n x [id, type, payload,
      priority, attempt, correlation id, expire at], m, m x [cancel id]
]]
--- @include "includes/now.lua"
--- @include "includes/counts.lua"
--- @include "includes/chunked.lua"

local STRIDE, FIRST = 4, 8
local replica, prefix, eventsCap = ARGV[1], ARGV[2], ARGV[6]
local now = nowMs()
local out = {}

local function deliverTo(agentId, epoch, window, scan)
  local agentKey, mailbox = ARGV[3] .. agentId, ARGV[4] .. agentId
  local agent = redis.call('HMGET', agentKey, 'epoch', 'inflight')
  if agent[1] ~= epoch then
    out[#out + 1] = -1
    return
  end

  local cancels = redis.call('SMEMBERS', ARGV[5] .. agentId)
  local confirmed = {}
  if #cancels > 0 then
    for _, id in ipairs(cancels) do
      local r = redis.call('HMGET', prefix .. id, 'state', 'delivered_epoch')
      if r[1] == 'delivered' and r[2] == epoch then confirmed[#confirmed + 1] = id end
    end
    redis.call('DEL', ARGV[5] .. agentId)
  end

  local free = window - tonumber(agent[2] or '0')
  local picked, sent, nextDue = {}, {}, 0
  if free > 0 then
    local head = redis.call('ZRANGE', mailbox, 0, scan - 1, 'WITHSCORES')
    for h = 1, #head, 2 do
      if #picked / 7 >= free then break end
      local id = head[h]
      local key = prefix .. id
      local r = redis.call('HMGET', key, 'state', 'delivered_epoch', 'not_before', 'expire_at', 'cancel_requested',
        'command_type', 'payload', 'priority', 'correlation_id', 'attempt', 'deliveries', 'steps')
      local state = r[1]
      if not state then
        redis.call('ZREM', mailbox, id) -- the record expired: nothing left to deliver
      elseif state == 'delivered' and r[2] ~= epoch and r[5] then
        -- Cancelled while its session was gone: the agent never hears of it again.
        countMove(state, 'cancelled')
        redis.call('HSET', key, 'state', 'cancelled', 'finished_at', now, 'error', 'cancelled')
        redis.call('ZREM', mailbox, id)
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_cancelled', 'command_id', id,
          'agent_id', agentId, 'replica', replica, 'ts', now)
      elseif not (state == 'delivered' and r[2] == epoch) then
        local due = state == 'queued' or state == 'delivered'
        if state == 'retrying' then
          if tonumber(r[3]) <= now then due = true
          elseif nextDue == 0 or tonumber(r[3]) < nextDue then nextDue = tonumber(r[3]) end
        end
        -- Past its TTL and not in flight here: the expiry sweep dead-letters it.
        if due and tonumber(r[4]) > now then
          countMove(state, 'delivered')
          local step = (tonumber(r[12]) or 0) + 1
          redis.call('HSET', key, 'state', 'delivered', 'delivered_epoch', epoch, 'delivered_by', replica,
            'delivered_at', now, 'deliveries', (tonumber(r[11]) or 0) + 1, 'steps', step,
            'step:' .. step, cjson.encode({ event = 'delivered', at = now, replica = replica, attempt = tonumber(r[10]) }))
          redis.call('XADD', KEYS[1], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_delivered', 'command_id', id,
            'agent_id', agentId, 'replica', replica, 'attempt', r[10], 'ts', now)
          sent[#sent + 1] = head[h + 1]
          sent[#sent + 1] = id
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
    if #picked > 0 then
      redis.call('HINCRBY', agentKey, 'inflight', #picked / 7)
      chunked('ZADD', ARGV[7] .. agentId, {}, sent)
      local ids = {}
      for i = 2, #sent, 2 do ids[#ids + 1] = sent[i] end
      chunked('ZREM', mailbox, {}, ids)
    end
  end

  out[#out + 1] = 0
  out[#out + 1] = nextDue > 0 and math.max(1, nextDue - now) or 0
  out[#out + 1] = #picked / 7
  for _, v in ipairs(picked) do out[#out + 1] = v end
  out[#out + 1] = #confirmed
  for _, v in ipairs(confirmed) do out[#out + 1] = v end
end

for a = FIRST, #ARGV, STRIDE do
  deliverTo(ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]))
end
flushCounts(KEYS[2])
return out
