--[[
  Moves agents that stopped pulsing along online -> stale -> offline, and forgets agents
  offline for longer than the retention (a forgotten agent leaves the label index too). Every
  replica runs it; the state sets make each transition (and its event) happen once. Ages use
  the Redis clock.
  Agent record and label set keys are built from ARGV[1] and ARGV[8]; with a `{hash tag}`
  prefix they share the slot of KEYS, so the script stays valid on Redis Cluster.

  Input:
    KEYS[1] agents online (zset, scored by last pulse)
    KEYS[2] agents stale (zset, scored by last pulse)
    KEYS[3] agents offline (zset, scored by time offline)
    KEYS[4] agent index (zset, lex)
    KEYS[5] events stream
    KEYS[6] agents' indexed terms (hash: agent id -> terms joined by "\n")

    ARGV[1] agent record key prefix
    ARGV[2] stale after (ms without a pulse)
    ARGV[3] offline after (ms without a pulse)
    ARGV[4] forget after (ms offline)
    ARGV[5] most agents moved per transition per call
    ARGV[6] events stream cap (approximate MAXLEN)
    ARGV[7] replica id running the sweep
    ARGV[8] label index key prefix (`<prefix><term>` is the set of agent ids with that term)

  Output:
    { became stale, became offline, forgotten }
]]
--- @include "includes/now.lua"

local now = nowMs()
local limit = tonumber(ARGV[5])

local function event(kind, id, record, extra)
  local replica = redis.call('HGET', record, 'replica') or ''
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'type', kind, 'agent_id', id,
    'replica', replica, 'reason', extra, 'swept_by', ARGV[7], 'ts', now)
end

local stale = 0
local online = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #online, 2 do
  local id, lastPulse = online[i], online[i + 1]
  local record = ARGV[1] .. id
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], lastPulse, id)
  if redis.call('EXISTS', record) == 1 then redis.call('HSET', record, 'state', 'stale') end
  event('agent_stale', id, record, 'no pulse')
  stale = stale + 1
end

local offline = 0
local silent = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]), 'LIMIT', 0, limit)
for _, id in ipairs(silent) do
  local record = ARGV[1] .. id
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[3], now, id)
  if redis.call('EXISTS', record) == 1 then
    redis.call('HSET', record, 'state', 'offline', 'disconnected_at', now, 'disconnect_reason', 'silent')
  end
  event('agent_disconnected', id, record, 'silent')
  offline = offline + 1
end

local forgotten = 0
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, limit)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
  redis.call('DEL', ARGV[1] .. id)
  -- Bounded: hello validation allows 64 labels and 64 capabilities.
  for term in string.gmatch(redis.call('HGET', KEYS[6], id) or '', '[^\n]+') do
    redis.call('SREM', ARGV[8] .. term, id)
  end
  redis.call('HDEL', KEYS[6], id)
  forgotten = forgotten + 1
end

return { stale, offline, forgotten }
