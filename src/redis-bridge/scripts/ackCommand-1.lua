--[[
  Records that the agent received a command (timeline `acked`), if it is in flight there.

  Input:
    KEYS[1] command record (hash)

    ARGV[1] agent id
    ARGV[2] attempt
    ARGV[3] replica id

  Output:
    REPLY.DONE recorded, REPLY.NOT_DONE not in flight for this agent (late or foreign ack; ignored)
]]
--- @include "includes/replyCodes.lua"
--- @include "includes/now.lua"
--- @include "includes/timeline.lua"

local r = redis.call('HMGET', KEYS[1], 'state', 'target', 'timeline')
if r[1] ~= 'delivered' or r[2] ~= ARGV[1] then return REPLY.NOT_DONE end
local _, nowText = nowMs()
redis.call('HSET', KEYS[1], 'acked_at', nowText, 'acked_attempt', ARGV[2],
  'timeline', withStep(r[3], step('acked', nowText, ARGV[3], ARGV[2])))
return REPLY.DONE
