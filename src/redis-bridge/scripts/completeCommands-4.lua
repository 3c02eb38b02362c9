--[[
  Applies a batch of agents' results, each fenced by its session's epoch. Success or
  cancellation finishes a command. A failure is retried with exponential backoff until
  `max_attempts`; then (or at once when permanent) it is dead-lettered `failed` with the last
  error. A result for a finished command or an older attempt is ignored (redeliveries make
  duplicates normal). A finished command leaves the agent's in-flight set; a retry goes back
  to its mailbox. In-flight set removals and counts are written once per agent. Records,
  agent records, mailboxes and in-flight sets are built from the ARGV prefixes (same hash tag
  as KEYS on Redis Cluster).

  Input:
    KEYS[1] events stream             KEYS[3] command deadlines (zset)
    KEYS[2] dead-letter stream        KEYS[4] command counts by state (hash)

    ARGV[1] replica id                ARGV[6] dlq cap
    ARGV[2] retry base delay (ms)     ARGV[7] dlq payload cap (bytes)
    ARGV[3] retry delay cap (ms)      ARGV[8] command record key prefix
    ARGV[4] record retention after finishing (ms)   ARGV[9]  agent record key prefix
    ARGV[5] events cap                ARGV[10] mailbox key prefix
                                      ARGV[11] in-flight set key prefix
    ARGV[12..] per result, 10 values: command id, agent id, session epoch,
               outcome (succeeded | failed | cancelled), output, error, duration (ms),
               permanent (1/0), attempt, 1 when the agent's ack was held back to be
               recorded here (timeline `acked`)

  Output, per result in order, two values:
    1, 0            finished (succeeded, cancelled or dead-lettered)
    2, retry in ms  failed; retrying after that delay
    0, 0            ignored (already finished, other attempt, or not this agent's)
    -1, 0           fenced: a newer session owns the agent
]]
--- @include "includes/now.lua"
--- @include "includes/deadLetter.lua"
--- @include "includes/counts.lua"
--- @include "includes/chunked.lua"

local STRIDE, FIRST = 10, 12
local replica, eventsCap, retention = ARGV[1], ARGV[5], tonumber(ARGV[4])
local now = nowMs()
local out, epochs, leaving, finished, unqueue = {}, {}, {}, {}, {}

local function apply(a)
  local id, agentId, epoch, outcome = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local err, attempt = ARGV[a + 5], tonumber(ARGV[a + 8])
  if epochs[agentId] == nil then epochs[agentId] = redis.call('HGET', ARGV[9] .. agentId, 'epoch') or false end
  if epochs[agentId] ~= epoch then return -1, 0 end
  local key = ARGV[8] .. id
  local r = redis.call('HMGET', key, 'state', 'target', 'attempt', 'max_attempts', 'delivered_epoch', 'steps')
  local state = r[1]
  if state ~= 'delivered' or r[2] ~= agentId or r[3] ~= ARGV[a + 8] then return 0, 0 end
  -- It leaves this session's window (a command delivered to an earlier session never counted).
  if r[5] == epoch then leaving[agentId] = (leaving[agentId] or 0) + 1 end

  local step = tonumber(r[6]) or 0
  local fields = { 'output', ARGV[a + 4], 'error', err, 'duration_ms', ARGV[a + 6] }
  local function addStep(s)
    step = step + 1
    fields[#fields + 1] = 'step:' .. step
    fields[#fields + 1] = cjson.encode(s)
  end
  if ARGV[a + 9] == '1' then
    fields[#fields + 1] = 'acked_at'
    fields[#fields + 1] = now
    addStep({ event = 'acked', at = now, replica = replica, attempt = attempt })
  end
  addStep({ event = outcome, at = now, replica = replica, attempt = attempt, detail = string.sub(err, 1, 200) })

  local function finish(newState, eventType)
    countMove(state, newState)
    for _, v in ipairs({ 'state', newState, 'finished_at', now, 'steps', step }) do fields[#fields + 1] = v end
    redis.call('HSET', key, unpack(fields))
    redis.call('PEXPIRE', key, retention)
    unqueue[agentId] = unqueue[agentId] or {}
    table.insert(unqueue[agentId], id)
    finished[#finished + 1] = id
    if eventType then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', eventsCap, '*', 'type', eventType, 'command_id', id,
        'agent_id', agentId, 'replica', replica, 'attempt', attempt, 'ts', now)
    end
  end

  if outcome == 'succeeded' or outcome == 'cancelled' then
    finish(outcome, 'command_' .. outcome)
    return 1, 0
  end

  redis.call('XADD', KEYS[1], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_failed', 'command_id', id,
    'agent_id', agentId, 'replica', replica, 'attempt', attempt, 'error', string.sub(err, 1, 200), 'ts', now)
  if ARGV[a + 7] == '1' or attempt >= tonumber(r[4]) then
    fields[#fields + 1] = 'dead_reason'
    fields[#fields + 1] = 'failed'
    finish('failed', nil)
    local c = redis.call('HMGET', key, 'command_type', 'payload', 'priority', 'correlation_id', 'max_attempts', 'source_id')
    local original = { 'type', 'command_issued', 'target', agentId, 'command_id', id, 'command_type', c[1],
      'payload', c[2], 'priority', c[3], 'correlation_id', c[4], 'max_attempts', c[5] }
    deadLetter(KEYS[2], ARGV[6], KEYS[1], eventsCap, original, 'failed', err, attempt, c[6] or '', replica, now, tonumber(ARGV[7]))
    return 1, 0
  end

  local delay = math.floor(math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (attempt - 1)))
  local retryAt = now + delay
  countMove(state, 'retrying')
  local inflight = ARGV[11] .. agentId
  local score = redis.call('ZSCORE', inflight, id)
  if score then
    redis.call('ZREM', inflight, id)
    redis.call('ZADD', ARGV[10] .. agentId, score, id)
  end
  for _, v in ipairs({ 'state', 'retrying', 'attempt', attempt + 1, 'not_before', retryAt, 'steps', step }) do fields[#fields + 1] = v end
  redis.call('HSET', key, unpack(fields))
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_retrying', 'command_id', id,
    'agent_id', agentId, 'replica', replica, 'attempt', attempt + 1, 'retry_at', retryAt, 'ts', now)
  return 2, delay
end

for a = FIRST, #ARGV, STRIDE do
  local code, retryIn = apply(a)
  out[#out + 1] = code
  out[#out + 1] = retryIn
end

for agentId, n in pairs(leaving) do
  local agentKey = ARGV[9] .. agentId
  if redis.call('HINCRBY', agentKey, 'inflight', -n) < 0 then redis.call('HSET', agentKey, 'inflight', 0) end
end
for agentId, ids in pairs(unqueue) do
  chunked('ZREM', ARGV[11] .. agentId, {}, ids)
  -- Normally a no-op; a result for a copy sent to an earlier session may arrive after that
  -- copy went back to the mailbox.
  chunked('ZREM', ARGV[10] .. agentId, {}, ids)
end
chunked('ZREM', KEYS[3], {}, finished)
flushCounts(KEYS[4])
return out
