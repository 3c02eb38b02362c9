--[[
  Records that the agent received a command (timeline `acked`), if it is in flight there.

  Input:
    KEYS[1] command record (hash)
    KEYS[2] command timeline (list)

    ARGV[1] agent id
    ARGV[2] attempt
    ARGV[3] replica id

  Output:
    1 recorded, 0 not in flight for this agent (late or foreign ack; ignored)
]]
--- @include "includes/now.lua"

local r = redis.call('HMGET', KEYS[1], 'state', 'target')
if r[1] ~= 'delivered' or r[2] ~= ARGV[1] then return 0 end
local now = nowMs()
redis.call('HSET', KEYS[1], 'acked_at', now, 'acked_attempt', ARGV[2])
redis.call('RPUSH', KEYS[2], cjson.encode({ event = 'acked', at = now, replica = ARGV[3], attempt = tonumber(ARGV[2]) }))
return 1
