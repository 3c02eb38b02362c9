-- Delivery count of ingress entry `id` if it is pending for `consumer`, else nil: an entry
-- reclaimed by another consumer (XAUTOCLAIM) must not be routed again by a paused replica
-- that wakes up (XACK alone does not check who owns the entry).
local function pendingFor(stream, group, id, consumer)
  local p = redis.call('XPENDING', stream, group, id, id, 1)
  if #p == 0 or p[1][2] ~= consumer then return nil end
  return tonumber(p[1][4])
end
