--[[
  Appends one lifecycle event stamped with the Redis clock.

  Input:
    KEYS[1] events stream

    ARGV[1] events stream cap (approximate MAXLEN)
    ARGV[2..] fields as field, value pairs (at least `type`)

  Output:
    the event's entry id
]]
--- @include "includes/now.lua"

local now = nowMs()
local args = { KEYS[1], 'MAXLEN', '~', ARGV[1], '*' }
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
args[#args + 1] = 'ts'
args[#args + 1] = now
return redis.call('XADD', unpack(args))
