--[[
  Records that a replica is alive (Redis clock) with its current facts.

  Input:
    KEYS[1] replica record (hash)
    KEYS[2] live replicas (zset, scored by last beat)

    ARGV[1] replica id
    ARGV[2] record TTL (ms)
    ARGV[3..] fields as field, value pairs

  Output:
    now (ms)
]]
--- @include "includes/now.lua"

local now = nowMs()
redis.call('HSET', KEYS[1], 'replica_id', ARGV[1], 'last_seen', now)
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return now
