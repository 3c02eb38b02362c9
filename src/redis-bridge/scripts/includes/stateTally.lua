-- For scripts that move records between states: moveState writes the new state (with any
-- extra field, value pairs) in one HSET and notes the move; countStates applies the moves at
-- the end, once: the per-state counters (one HINCRBY per state) and the command index's
-- state sets (one ZREM and one ZADD per state; includes/commandIndex.lua).
--- @include "includes/commandIndex.lua"
local stateTally = {}

-- `created` is the record's queued_at (the index score); nil skips the index.
local function moveState(record, id, created, old, new, ...)
  redis.call('HSET', record, 'state', new, ...)
  if old == new then return end
  stateTally[old] = (stateTally[old] or 0) - 1
  stateTally[new] = (stateTally[new] or 0) + 1
  indexStateMoved(id, created, old, new)
end

local function countStates(counts, indexPrefix)
  for state, delta in pairs(stateTally) do
    if delta ~= 0 then redis.call('HINCRBY', counts, state, delta) end
  end
  indexFlushStates(indexPrefix)
end
