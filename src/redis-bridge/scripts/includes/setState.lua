-- Moves a command record to `new` state, keeping the per-state counters in step.
local function setState(record, counts, old, new)
  if old == new then return end
  redis.call('HSET', record, 'state', new)
  if old and old ~= '' then redis.call('HINCRBY', counts, old, -1) end
  redis.call('HINCRBY', counts, new, 1)
end
