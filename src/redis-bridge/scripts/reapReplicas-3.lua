--[[
  Removes replicas that stopped beating and emits one `replica_down` for each (the ZREM
  decides which caller emits). With a failover grace, each removed replica's agents are held
  for the grace (`dampening_started`, reason `replica_down`), so they have time to reconnect
  elsewhere before the sweep marks them stale. Ages use the Redis clock.

  Input:
    KEYS[1] live replicas (zset, scored by last beat)
    KEYS[2] events stream
    KEYS[3] agent holds (hash: replica id or `*` -> `<until ms>|<reason>`)

    ARGV[1] dead after (ms without a beat)
    ARGV[2] events stream cap (approximate MAXLEN)
    ARGV[3] replica id running the reap
    ARGV[4] failover grace (ms; 0 = no hold)

  Output:
    ids of the replicas removed
]]
--- @include "includes/now.lua"
--- @include "includes/agentHolds.lua"

local now = nowMs()
local grace = tonumber(ARGV[4])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 100)
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'type', 'replica_down', 'replica', id,
    'reason', 'expired', 'reaped_by', ARGV[3], 'ts', now)
  if grace > 0 then setHold(KEYS[3], KEYS[2], ARGV[2], id, now, now + grace, 'replica_down', ARGV[3], {}) end
end
return dead
