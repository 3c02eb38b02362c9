--[[
  Places `pick any` commands that wait for a free agent, oldest of the highest priority
  first: each goes to the least loaded matching agent with a free slot
  (includes/pickAgent.lua) and is admitted there like a routed command. A command whose
  selector has no free agent now keeps waiting (its TTL still runs: expireCommands ends it).
  Any replica may run it; Redis serializes the calls.

  Input:
    KEYS[1] events stream    KEYS[4] command counts by state (hash)   KEYS[7] agents online (zset)
    KEYS[2] dlq stream       KEYS[5] commands waiting (zset)
    KEYS[3] command deadlines  KEYS[6] every known agent (zset)

    ARGV[1] command record prefix  ARGV[2] mailbox prefix  ARGV[3] agent record prefix  ARGV[4] replica prefix
    ARGV[5] bell suffix  ARGV[6] wake suffix  ARGV[7] wake set TTL (ms)
    ARGV[8] command index prefix  ARGV[9] index life (ms)  ARGV[10] record retention after the TTL (ms)
    ARGV[11] mailbox cap  ARGV[12] events cap  ARGV[13] dlq cap  ARGV[14] dlq payload cap (bytes)
    ARGV[15] replica id  ARGV[16] label index prefix  ARGV[17] scratch key (same slot; holds a `#`, which no command id does)
    ARGV[18] most waiting commands looked at

  Output: { still waiting, k, k x (command id, agent, outcome, owner, epoch, expire at, command
  type, payload, priority, correlation id) }, outcome as the route script's
]]
--- @include "includes/now.lua"
--- @include "includes/admitCommand.lua"
--- @include "includes/pickAgent.lua"

local now, nowText = nowMs()
local replica = ARGV[15]
ADMIT = { events = KEYS[1], eventsCap = ARGV[12], dlq = KEYS[2], dlqCap = ARGV[13], dlqPayloadCap = tonumber(ARGV[14]),
  deadlines = KEYS[3], counts = KEYS[4], commandPrefix = ARGV[1], mailboxPrefix = ARGV[2], agentPrefix = ARGV[3],
  replicaPrefix = ARGV[4], bellSuffix = ARGV[5], wakeSuffix = ARGV[6], wakeTtl = ARGV[7], indexPrefix = ARGV[8],
  mailboxCap = tonumber(ARGV[11]), retention = tonumber(ARGV[10]), consumer = replica, now = now, nowText = nowText }
local P = { tmp = ARGV[17], labelPrefix = ARGV[16], allAgents = KEYS[6], online = KEYS[7], agentPrefix = ARGV[3] }

local out, placed, gone = {}, 0, {}
local waiting = redis.call('ZRANGE', KEYS[5], 0, tonumber(ARGV[18]) - 1, 'WITHSCORES')
for i = 1, #waiting, 2 do
  local id = waiting[i]
  -- Its arrival number, kept in the waiting score: it keeps its place among equal priorities.
  local seq = tonumber(waiting[i + 1]) % PRIORITY_STEP
  local key = ARGV[1] .. id
  local r = redis.call('HMGET', key, 'state', 'target', 'selector_plan', 'command_type', 'payload', 'priority',
    'correlation_id', 'max_attempts', 'ttl_ms', 'requested_by', 'source_id', 'queued_at', 'expire_at', 'timeline')
  if r[1] ~= 'queued' or r[2] ~= '' or not r[3] then
    gone[#gone + 1] = id -- cancelled, expired or gone meanwhile
  else
    local agent = pickAgent(P, r[3])
    if agent then
      local c = { sourceId = r[11] or '', id = id, target = agent, ctype = r[4], payload = r[5], priority = r[6],
        correlation = r[7], maxAttempts = r[8], ttl = r[9], requestedBy = r[10] or '', redriveOf = '', parentId = '',
        waited = r[12], expireAt = r[13], timeline = r[14] }
      local outcome, owner, epoch, expireAt = admitCommand(c, seq)
      if outcome ~= 'error' then
        gone[#gone + 1] = id
        placed = placed + 1
        out[#out + 1] = id; out[#out + 1] = agent; out[#out + 1] = outcome; out[#out + 1] = owner
        out[#out + 1] = epoch; out[#out + 1] = expireAt; out[#out + 1] = r[4]; out[#out + 1] = r[5]
        out[#out + 1] = r[6]; out[#out + 1] = r[7]
      end
    end
  end
end
if #gone > 0 then redis.call('ZREM', KEYS[5], unpack(gone)) end
admitFlush(tonumber(ARGV[9]), nil)
indexFlushStates(ARGV[8])
local head = { redis.call('ZCARD', KEYS[5]), placed }
for _, v in ipairs(out) do head[#head + 1] = v end
return head
