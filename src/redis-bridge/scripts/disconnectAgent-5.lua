--[[
  Marks an agent offline when its session ends, unless a newer session already owns it
  (fenced by epoch), and emits `agent_disconnected`.

  Input:
    KEYS[1] agent record (hash)
    KEYS[2] agents online (zset)
    KEYS[3] agents stale (zset)
    KEYS[4] agents offline (zset)
    KEYS[5] events stream

    ARGV[1] agent id
    ARGV[2] epoch of the ending session
    ARGV[3] replica id
    ARGV[4] reason
    ARGV[5] record TTL (ms)
    ARGV[6] events stream cap (approximate MAXLEN)

  Output:
    REPLY.DONE     marked offline
    REPLY.NOT_DONE superseded (a newer session owns the agent) or no record
]]
--- @include "includes/replyCodes.lua"
--- @include "includes/now.lua"

if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return REPLY.NOT_DONE end

local now = nowMs()
local id = ARGV[1]

redis.call('HSET', KEYS[1], 'state', 'offline', 'disconnected_at', now, 'disconnect_reason', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('ZADD', KEYS[4], now, id)
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'type', 'agent_disconnected', 'agent_id', id,
  'replica', ARGV[3], 'reason', ARGV[4], 'epoch', ARGV[2], 'ts', now)
return REPLY.DONE
