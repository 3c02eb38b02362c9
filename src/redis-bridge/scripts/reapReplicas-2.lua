--[[
  Removes replicas that stopped beating and emits one `replica_down` for each (the ZREM
  decides which caller emits). Ages use the Redis clock.

  Input:
    KEYS[1] live replicas (zset, scored by last beat)
    KEYS[2] events stream

    ARGV[1] dead after (ms without a beat)
    ARGV[2] events stream cap (approximate MAXLEN)
    ARGV[3] replica id running the reap

  Output:
    ids of the replicas removed
]]
--- @include "includes/now.lua"

local now = nowMs()
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 100)
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'type', 'replica_down', 'replica', id,
    'reason', 'expired', 'reaped_by', ARGV[3], 'ts', now)
end
return dead
