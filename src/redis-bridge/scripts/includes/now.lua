-- Milliseconds on the Redis clock (replica clocks may be skewed; this one is shared).
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
