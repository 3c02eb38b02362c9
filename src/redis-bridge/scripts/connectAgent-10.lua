--[[
  Makes a new session the owner of an agent id: takes the next fencing epoch, records the
  owner and the hello fields, moves the agent to `online` and emits `agent_connected`.
  Time comes from the Redis clock, so replica clock skew changes nothing. An agent id that
  starts too many sessions within the window is refused (a crash loop or a duplicate fight
  must not churn the registry), cluster-wide. Commands in flight to earlier sessions go back
  to the mailbox's ready band, so the new session gets them again (same attempt).
  Keeps the label index: the agent leaves the sets of the terms it had before and no longer
  has (a label change is a new hello) and joins those of its new terms (src/shared/selector.ts
  computes them; hello validation bounds them: at most 64 labels and 64 capabilities). Term
  set keys are built from ARGV[8], like sweepAgents' record keys.

  Input:
    KEYS[1] agent record (hash)
    KEYS[2] agent index (zset, lex)
    KEYS[3] agents online (zset)
    KEYS[4] agents stale (zset)
    KEYS[5] agents offline (zset)
    KEYS[6] epoch counter
    KEYS[7] events stream
    KEYS[8] the agent's session counter for the rate limit
    KEYS[9] the agent's mailbox (zset)
    KEYS[10] agents' indexed terms (hash: agent id -> terms joined by "\n")

    ARGV[1] agent id
    ARGV[2] replica id
    ARGV[3] session id
    ARGV[4] record TTL (ms)
    ARGV[5] events stream cap (approximate MAXLEN)
    ARGV[6] sessions allowed per window
    ARGV[7] window (ms)
    ARGV[8] label index key prefix (`<prefix><term>` is the set of agent ids with that term)
    ARGV[9] the agent's terms joined by "\n" ('' = none)
    ARGV[10..] fields of the record as field, value pairs: the hello's, and `window` (the
              session's in-flight window, for the route script's immediate deliveries)

  Output:
    { epoch, previous replica or '', previous session or '', previous state or '', now (ms) }
    { REPLY.OVER_SESSION_LIMIT, retry after (ms), '', '', 0 } when the agent id is over its session limit
]]
--- @include "includes/replyCodes.lua"
--- @include "includes/now.lua"
--- @include "includes/mailboxBands.lua"

local starts = redis.call('INCR', KEYS[8])
if starts == 1 then redis.call('PEXPIRE', KEYS[8], ARGV[7]) end
if starts > tonumber(ARGV[6]) then
  return { REPLY.OVER_SESSION_LIMIT, math.max(1, redis.call('PTTL', KEYS[8])), '', '', 0 }
end

local now = nowMs()
local id = ARGV[1]

local prev = redis.call('HMGET', KEYS[1], 'replica', 'session', 'state')
local epoch = redis.call('INCR', KEYS[6])

-- inflight counts commands delivered to this session; earlier ones are redelivered.
redis.call('HSET', KEYS[1], 'agent_id', id, 'replica', ARGV[2], 'session', ARGV[3], 'epoch', epoch,
  'state', 'online', 'connected_at', now, 'last_pulse', now, 'inflight', 0, unpack(ARGV, 10))
redis.call('PEXPIRE', KEYS[1], ARGV[4])

-- Bounded by the in-flight window of the sessions before this one.
for _, id in ipairs(redis.call('ZRANGE', KEYS[9], IN_FLIGHT, '+inf', 'BYSCORE')) do
  redis.call('ZINCRBY', KEYS[9], -IN_FLIGHT, id)
end

redis.call('ZADD', KEYS[2], 0, id)
redis.call('ZREM', KEYS[4], id)
redis.call('ZREM', KEYS[5], id)
redis.call('ZADD', KEYS[3], now, id)

-- The label index. Every term is SADDed, not only new ones: idempotent, so the sets end right
-- whatever they held.
local terms = {}
for term in string.gmatch(ARGV[9], '[^\n]+') do
  terms[term] = true
  redis.call('SADD', ARGV[8] .. term, id)
end
for term in string.gmatch(redis.call('HGET', KEYS[10], id) or '', '[^\n]+') do
  if not terms[term] then redis.call('SREM', ARGV[8] .. term, id) end
end
if ARGV[9] == '' then redis.call('HDEL', KEYS[10], id) else redis.call('HSET', KEYS[10], id, ARGV[9]) end

redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[5], '*', 'type', 'agent_connected', 'agent_id', id,
  'replica', ARGV[2], 'session', ARGV[3], 'epoch', epoch, 'ts', now)

return { epoch, prev[1] or '', prev[2] or '', prev[3] or '', now }
