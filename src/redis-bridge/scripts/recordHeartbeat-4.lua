--[[
  Records a heartbeat for the session that owns the agent (fenced by epoch): last pulse
  (Redis clock), metrics, active commands; a stale or swept-offline agent becomes online again.

  Input:
    KEYS[1] agent record (hash)
    KEYS[2] agents online (zset)
    KEYS[3] agents stale (zset)
    KEYS[4] agents offline (zset)

    ARGV[1] agent id
    ARGV[2] epoch of the session sending the heartbeat
    ARGV[3] record TTL (ms)
    ARGV[4] metrics (JSON)
    ARGV[5] active commands

  Output:
    REPLY.DONE      recorded
    REPLY.FENCED    a newer session owns the agent
    REPLY.NO_RECORD no record (expired, or Redis lost its data): the session must register again
]]
--- @include "includes/replyCodes.lua"
--- @include "includes/now.lua"

local cur = redis.call('HMGET', KEYS[1], 'epoch', 'state')
if not cur[1] then return REPLY.NO_RECORD end
if cur[1] ~= ARGV[2] then return REPLY.FENCED end

local now = nowMs()

redis.call('HSET', KEYS[1], 'last_pulse', now, 'metrics', ARGV[4], 'active_commands', ARGV[5])
if cur[2] ~= 'online' then
  redis.call('HSET', KEYS[1], 'state', 'online')
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return REPLY.DONE
