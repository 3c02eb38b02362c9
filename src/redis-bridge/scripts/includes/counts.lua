-- Per-state count changes gathered over a batch script and written once at its end
-- (`setState` writes them one by one; batches would repeat the same HINCRBY many times).
local countDeltas = {}
local function countMove(old, new)
  if old == new then return end
  if old and old ~= '' then countDeltas[old] = (countDeltas[old] or 0) - 1 end
  countDeltas[new] = (countDeltas[new] or 0) + 1
end
local function flushCounts(key)
  for state, delta in pairs(countDeltas) do
    if delta ~= 0 then redis.call('HINCRBY', key, state, delta) end
  end
end
