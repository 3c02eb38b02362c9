-- Holds on agents' state transitions (docs/dampening.md): a hash field per replica id (`*`
-- for the whole cluster) whose value is `<until ms>|<reason>`. Every hold has an until; the
-- staleness sweep removes expired ones.

-- Until (number) and reason of a stored hold value, or nil.
local function parseHold(value)
  if not value then return nil end
  local untilMs, reason = string.match(value, '^(%d+)|(.*)$')
  if not untilMs then return nil end
  return tonumber(untilMs), reason
end

-- Holds `field` until `untilMs`. An active hold that already lasts as long stays as it is
-- (its reason too, so the cause that set it can still release it). Otherwise the hold takes
-- the new until and reason, and `dampening_started` is emitted unless the same hold was only
-- extended (one event per hold). `extra`: more event fields as a flat list.
-- Returns true when an event was emitted.
local function setHold(holdsKey, eventsKey, cap, field, now, untilMs, reason, by, extra)
  local oldUntil, oldReason = parseHold(redis.call('HGET', holdsKey, field))
  local active = oldUntil ~= nil and oldUntil > now
  if active and oldUntil >= untilMs then return false end
  redis.call('HSET', holdsKey, field, untilMs .. '|' .. reason)
  if active and oldReason == reason then return false end
  local args = { eventsKey, 'MAXLEN', '~', cap, '*', 'type', 'dampening_started', 'replica', field,
    'reason', reason, 'until', untilMs, 'by', by }
  for i = 1, #extra do args[#args + 1] = extra[i] end
  args[#args + 1] = 'ts'
  args[#args + 1] = now
  redis.call('XADD', unpack(args))
  return true
end
