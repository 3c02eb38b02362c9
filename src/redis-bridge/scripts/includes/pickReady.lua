-- Picks what an agent's session should run next from the mailbox's ready band, in
-- priority-then-arrival order, until `free` commands are picked (never the whole backlog).
-- Picked: queued commands, due retries, and commands delivered to an earlier session
-- (connectAgent moved them back; redelivered with the same attempt; one whose cancel was
-- requested meanwhile is finished as cancelled instead; a fan-out child's end is noted for
-- its parent: the caller runs flushParents). Each pick moves to the in-flight
-- band, is recorded as delivered to `epoch` and emits `command_delivered`; its 7 values
-- (id, type, payload, priority, attempt, correlation id, expire at) are appended to `out`.
-- Returns the number picked and the ms until the earliest retry seen on the way (0 = none).
--- @include "includes/mailboxBands.lua"
--- @include "includes/stateTally.lua"
--- @include "includes/timeline.lua"
--- @include "includes/fanoutParent.lua"

-- Appends one command to send, as the replica reads it: 7 values.
local function appendCommand(out, id, commandType, payload, priority, attempt, correlationId, expireAt)
  local n = #out
  out[n + 1] = id
  out[n + 2] = commandType
  out[n + 3] = payload
  out[n + 4] = priority
  out[n + 5] = attempt
  out[n + 6] = correlationId
  out[n + 7] = expireAt
end

local function pickReady(mailbox, agentId, epoch, free, scanMax, prefix, events, eventsCap, replica, now, nowText, out)
  local picked, nextDue = 0, 0
  -- Read in pages just over what is still free: a refill usually wants one or two. Picked
  -- commands leave the ready band, so the next page starts after those that stayed.
  local stayed = 0
  while picked < free and stayed < scanMax do
    local want = math.min(free - picked + 4, scanMax - stayed)
    local ready = redis.call('ZRANGE', mailbox, '-inf', '(' .. IN_FLIGHT, 'BYSCORE', 'LIMIT', stayed, want)
    for _, id in ipairs(ready) do
      if picked >= free then break end
      local key = prefix .. id
      local r = redis.call('HMGET', key, 'state', 'delivered_epoch', 'not_before', 'expire_at', 'cancel_requested',
        'command_type', 'payload', 'priority', 'correlation_id', 'attempt', 'deliveries', 'timeline', 'queued_at', 'parent_id')
      local state = r[1]
      if not state then
        redis.call('ZREM', mailbox, id) -- the record expired: nothing left to deliver
      elseif state == 'delivered' and r[2] ~= epoch and r[5] then
        -- Cancelled while its session was gone: the agent never hears of it again.
        moveState(key, id, r[13], state, 'cancelled', 'finished_at', nowText, 'error', 'cancelled',
          'timeline', withStep(r[12], step('cancelled', nowText, replica)))
        redis.call('ZREM', mailbox, id)
        if r[14] then
          redis.call('XADD', events, 'MAXLEN', '~', eventsCap, '*', 'type', 'command_cancelled', 'command_id', id,
            'agent_id', agentId, 'replica', replica, 'parent_id', r[14], 'ts', nowText)
          childFinished(r[14], 'cancelled')
        else
          redis.call('XADD', events, 'MAXLEN', '~', eventsCap, '*', 'type', 'command_cancelled', 'command_id', id,
            'agent_id', agentId, 'replica', replica, 'ts', nowText)
        end
      elseif state == 'delivered' and r[2] == epoch then
        -- Already sent on this session (a mailbox written before the bands): file it as in flight.
        redis.call('ZINCRBY', mailbox, IN_FLIGHT, id)
      else
        local due = state == 'queued' or state == 'delivered'
        if state == 'retrying' then
          if tonumber(r[3]) <= now then due = true
          elseif nextDue == 0 or tonumber(r[3]) < nextDue then nextDue = tonumber(r[3]) end
        end
        -- Past its TTL and not in flight here: the expiry sweep dead-letters it.
        if due and tonumber(r[4]) > now then
          moveState(key, id, r[13], state, 'delivered', 'delivered_epoch', epoch, 'delivered_by', replica, 'delivered_at', nowText,
            'deliveries', tostring((tonumber(r[11]) or 0) + 1),
            'timeline', withStep(r[12], step('delivered', nowText, replica, r[10])))
          redis.call('ZINCRBY', mailbox, IN_FLIGHT, id)
          if r[14] then
            redis.call('XADD', events, 'MAXLEN', '~', eventsCap, '*', 'type', 'command_delivered', 'command_id', id,
              'agent_id', agentId, 'replica', replica, 'attempt', r[10], 'parent_id', r[14], 'ts', nowText)
          else
            redis.call('XADD', events, 'MAXLEN', '~', eventsCap, '*', 'type', 'command_delivered', 'command_id', id,
              'agent_id', agentId, 'replica', replica, 'attempt', r[10], 'ts', nowText)
          end
          picked = picked + 1
          appendCommand(out, id, r[6], r[7], r[8], r[10], r[9], r[4])
        else
          stayed = stayed + 1
        end
      end
    end
    if #ready < want then break end
  end
  return picked, nextDue > 0 and math.max(1, nextDue - now) or 0
end

-- Appends to `out` (7 values each, as pickReady) the commands in the in-flight band that are
-- recorded as delivered to `epoch`: sent to this session already, or pushed to it by the
-- route script while its owner could not take them (the session was still registering, or
-- the push was lost with a dropped pub/sub connection). The agent answers a repeat from its
-- result cache. Returns how many.
local function inFlightFor(mailbox, epoch, scanMax, prefix, out)
  local count = 0
  for _, id in ipairs(redis.call('ZRANGE', mailbox, IN_FLIGHT, '+inf', 'BYSCORE', 'LIMIT', 0, scanMax)) do
    local r = redis.call('HMGET', prefix .. id, 'state', 'delivered_epoch', 'command_type', 'payload', 'priority',
      'correlation_id', 'attempt', 'expire_at')
    if r[1] == 'delivered' and r[2] == epoch then
      count = count + 1
      appendCommand(out, id, r[3], r[4], r[5], r[7], r[6], r[8])
    end
  end
  return count
end
