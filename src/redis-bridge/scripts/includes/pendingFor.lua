-- Delivery count of ingress entry `id` if it is pending for `consumer`, else nil: an entry
-- reclaimed by another consumer (XAUTOCLAIM) must not be routed again by a paused replica
-- that wakes up (XACK alone does not check who owns the entry).
local function pendingFor(stream, group, id, consumer)
  local p = redis.call('XPENDING', stream, group, id, id, 1)
  if #p == 0 or p[1][2] ~= consumer then return nil end
  return tonumber(p[1][4])
end

-- pendingFor for many entries, read in one range: returns a function of an entry id. `ids`
-- are in stream order. The range read counts at most 2n + 16 of the consumer's entries; an
-- id not among them when the read was cut short is looked up on its own.
local function pendingForAll(stream, group, ids, consumer)
  local limit = 2 * #ids + 16
  local range = redis.call('XPENDING', stream, group, ids[1], ids[#ids], limit, consumer)
  local deliveries = {}
  for _, p in ipairs(range) do deliveries[p[1]] = tonumber(p[4]) end
  local complete = #range < limit
  return function(id)
    local d = deliveries[id]
    if d or complete then return d end
    return pendingFor(stream, group, id, consumer)
  end
end
