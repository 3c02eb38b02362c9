-- A fan-out parent follows its children. Scripts that finish commands call childFinished for
-- each child reaching a terminal state and flushParents once at the end (before countStates):
-- the parent's counters move, a rollout past `max_failures` stops launching (the children not
-- started end counted as cancelled), the parent is put on the due list when children remain
-- to launch (`batch_wait_ms` after the finish), and when its last launched child is done and
-- none remain, the parent finishes: `cancelled` if it was cancelled, `failed` if any child
-- failed or died, else `succeeded`; with one event carrying a summary.
--- @include "includes/stateTally.lua"
--- @include "includes/timeline.lua"

local PARENT_FIELDS = { 'state', 'fanout', 'matched', 'skipped', 'launched', 'finished', 'not_started', 'max_failures',
  'n_succeeded', 'n_failed', 'n_dead', 'n_cancelled', 'batch', 'batch_wait_ms', 'stop_reason', 'cancel_requested',
  'queued_at', 'timeline', 'ttl_ms' }

-- The parent record's fan-out fields, numbers as numbers; nil when it is gone or not a fan-out.
local function readParent(key)
  local r = redis.call('HMGET', key, unpack(PARENT_FIELDS))
  if not r[1] or r[2] ~= '1' then return nil end
  return { state = r[1], matched = tonumber(r[3]) or 0, skipped = tonumber(r[4]) or 0, launched = tonumber(r[5]) or 0,
    finished = tonumber(r[6]) or 0, notStarted = tonumber(r[7]) or 0, maxFailures = tonumber(r[8]) or 0,
    succeeded = tonumber(r[9]) or 0, failed = tonumber(r[10]) or 0, dead = tonumber(r[11]) or 0,
    cancelled = tonumber(r[12]) or 0, batch = tonumber(r[13]) or 0, batchWait = tonumber(r[14]) or 0,
    stopReason = r[15], cancelRequested = r[16], created = r[17], timeline = r[18], ttl = tonumber(r[19]) or 0 }
end

local PARENT_DONE = { succeeded = true, failed = true, dead = true, cancelled = true }

local function parentSummary(p)
  return p.succeeded .. ' succeeded, ' .. p.failed .. ' failed, ' .. p.dead .. ' dead, ' ..
    (p.cancelled + p.notStarted) .. ' cancelled, ' .. p.skipped .. ' skipped'
end

-- Finishes parent `id` (record `key`, fields `p`). F: events, eventsCap, replica, nowText,
-- retention (ms, or nil to leave the record's TTL).
local function finishParent(F, id, key, p)
  local new = 'succeeded'
  if p.cancelRequested then new = 'cancelled'
  elseif p.failed + p.dead > 0 or p.stopReason then new = 'failed' end
  local summary = parentSummary(p)
  local err = ''
  if new == 'failed' then err = p.stopReason or ((p.failed + p.dead) .. ' of ' .. p.launched .. ' children failed') end
  if new == 'cancelled' then err = 'cancelled' end
  moveState(key, id, p.created, p.state, new, 'finished_at', F.nowText, 'error', err,
    'timeline', withStep(p.timeline, step(new, F.nowText, F.replica, nil, summary)))
  if F.retention then redis.call('PEXPIRE', key, F.retention) end
  redis.call('XADD', F.events, 'MAXLEN', '~', F.eventsCap, '*', 'type', 'command_' .. new, 'command_id', id,
    'agent_id', '', 'replica', F.replica, 'summary', summary, 'ts', F.nowText)
end

-- Children finished in this script call, by parent id, in first-seen order.
local parentTally, parentOrder = {}, {}

local function childFinished(parentId, state)
  local t = parentTally[parentId]
  if not t then
    t = { succeeded = 0, failed = 0, dead = 0, cancelled = 0 }
    parentTally[parentId] = t
    parentOrder[#parentOrder + 1] = parentId
  end
  t[state] = t[state] + 1
end

-- After a parent's counters changed: stops a rollout past max_failures, schedules the next
-- launch, or finishes the parent. F as for finishParent, plus commandPrefix, due (zset), now.
local function parentMoved(F, id, key, p)
  if PARENT_DONE[p.state] then return end
  if F.retention then redis.call('PEXPIRE', key, p.ttl + F.retention) end
  local failures = p.failed + p.dead
  if p.maxFailures > 0 and failures >= p.maxFailures and not p.stopReason and not p.cancelRequested then
    p.stopReason = 'stopped after ' .. failures .. ' failed children (max_failures ' .. p.maxFailures .. ')'
    p.notStarted = p.notStarted + (p.matched - p.launched - p.notStarted)
    p.timeline = withStep(p.timeline, step('stopped', F.nowText, F.replica, nil, p.stopReason))
    redis.call('HSET', key, 'stop_reason', p.stopReason, 'not_started', p.notStarted, 'timeline', p.timeline)
  end
  if p.matched - p.launched - p.notStarted > 0 then
    redis.call('ZADD', F.due, 'NX', F.now + p.batchWait, id)
  elseif p.finished >= p.launched then
    finishParent(F, id, key, p)
    redis.call('ZREM', F.due, id)
  end
end

local function flushParents(F)
  for _, id in ipairs(parentOrder) do
    local t = parentTally[id]
    local key = F.commandPrefix .. id
    if redis.call('HGET', key, 'fanout') == '1' then
      redis.call('HINCRBY', key, 'finished', t.succeeded + t.failed + t.dead + t.cancelled)
      for state, n in pairs(t) do
        if n > 0 then redis.call('HINCRBY', key, 'n_' .. state, n) end
      end
      local p = readParent(key)
      if p then parentMoved(F, id, key, p) end
    end
  end
  parentTally, parentOrder = {}, {}
end
