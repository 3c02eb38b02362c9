-- For scripts that move many records: moveState writes the new state (with any extra field,
-- value pairs) in one HSET and tallies the change; countStates applies the tally to the
-- per-state counters with one HINCRBY per state, once, at the end.
local stateTally = {}

local function moveState(record, old, new, ...)
  redis.call('HSET', record, 'state', new, ...)
  if old == new then return end
  stateTally[old] = (stateTally[old] or 0) - 1
  stateTally[new] = (stateTally[new] or 0) + 1
end

local function countStates(counts)
  for state, delta in pairs(stateTally) do
    if delta ~= 0 then redis.call('HINCRBY', counts, state, delta) end
  end
end
