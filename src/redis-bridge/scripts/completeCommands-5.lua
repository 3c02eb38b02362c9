--[[
  Applies a batch of agents' results in one step, each fenced by its session's epoch, and
  refills the windows they free. Success or cancellation finishes the command. A failure is
  retried with exponential backoff until `max_attempts` (the command goes back to the
  mailbox's ready band); then (or at once when permanent) it is dead-lettered `failed` with
  the last error. A result for a finished command or an older attempt is ignored
  (redeliveries make duplicates normal). Then, for each agent with a refill window, the
  next commands of its ready band are picked for its session (includes/pickReady.lua), so
  a steady flow needs no delivery run of its own. Record, mailbox and agent keys are built
  from the prefixes in ARGV (same hash tag as KEYS on Redis Cluster).

  Input:
    KEYS[1] events stream            KEYS[3] command deadlines (zset)
    KEYS[2] dead-letter stream       KEYS[4] command counts by state (hash)
                                     KEYS[5] fan-outs due (zset)

    ARGV[1] command record key prefix   ARGV[6] retry delay cap (ms)
    ARGV[2] mailbox key prefix          ARGV[7] record retention after finishing (ms)
    ARGV[3] agent record key prefix     ARGV[8] events cap
    ARGV[4] replica id                  ARGV[9] dlq cap
    ARGV[5] retry base delay (ms)       ARGV[10] dlq payload cap (bytes)
    ARGV[11] command index key prefix (`<prefix>:idx:`)
    ARGV[12] n, the number of results
    ARGV[13..] n x 10: command id, agent id, session epoch, outcome (succeeded | failed |
      cancelled), output, error, duration (ms), permanent (1/0), attempt, refill window
      (the session's window, or 0 when it should get nothing new now)

  A fan-out child's end moves its parent along (includes/fanoutParent.lua); its events carry
  `parent_id`.

  A result stands for the agent's ack: an attempt whose ack was not recorded on its own
  (agents send none for commands that finish quickly) gets its `acked` step here.

  Output: n x 2, per result in order:
    REPLY.FINISHED, 0           finished (succeeded, cancelled or dead-lettered)
    REPLY.RETRYING, retry in ms failed; retrying after that delay
    REPLY.IGNORED, 0            ignored (already finished, other attempt, or not this agent's)
    REPLY.FENCED, 0             a newer session owns the agent
  then m, and per refilled agent: agent id, ms until a retry seen in its ready band is due
    (0 = none), k, and k x (id, type, payload, priority, attempt, correlation id, expire
    at): what its session is to be sent now
]]
--- @include "includes/replyCodes.lua"
--- @include "includes/now.lua"
--- @include "includes/deadLetter.lua"
--- @include "includes/mailboxBands.lua"
--- @include "includes/stateTally.lua"
--- @include "includes/timeline.lua"
--- @include "includes/pickReady.lua"
--- @include "includes/fanoutParent.lua"

local commandPrefix, mailboxPrefix, agentPrefix, replica = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local retryBase, retryMax, retention = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local eventsCap, dlqCap, dlqPayloadCap = ARGV[8], ARGV[9], tonumber(ARGV[10])
local indexPrefix = ARGV[11]
local n = tonumber(ARGV[12])
local now, nowText = nowMs()
local finished, out = {}, {}
-- Per agent of the batch, in first-seen order: its record's epoch and in-flight count, the
-- commands leaving its window and the refill window (applied once per agent at the end).
local agents, order = {}, {}
-- Ids leaving each mailbox, removed once per mailbox at the end.
local leftMailbox = {}

local function apply(id, agentId, epoch, outcome, output, err, duration, permanent, attemptText, window)
  local a = agents[agentId]
  if a == nil then
    local r = redis.call('HMGET', agentPrefix .. agentId, 'epoch', 'inflight')
    a = { epoch = r[1], inflight = tonumber(r[2]) or 0, left = 0, window = 0 }
    agents[agentId] = a
    order[#order + 1] = agentId
  end
  if a.epoch ~= epoch then return REPLY.FENCED, 0 end
  a.window = tonumber(window)
  local key, mailbox = commandPrefix .. id, mailboxPrefix .. agentId
  local r = redis.call('HMGET', key, 'state', 'target', 'attempt', 'max_attempts', 'delivered_epoch', 'acked_attempt', 'timeline', 'queued_at', 'parent_id')
  local state = r[1]
  if state ~= 'delivered' or r[2] ~= agentId or r[3] ~= attemptText then return REPLY.IGNORED, 0 end
  local attempt = tonumber(attemptText)
  local parentId = r[9]
  -- Event fields after the common ones: a child's carry its parent.
  local tail = parentId and { 'parent_id', parentId, 'ts', nowText } or { 'ts', nowText }
  -- It leaves this session's window (a command delivered to an earlier session never counted).
  if r[5] == epoch then a.left = a.left + 1 end
  -- The result's fields, written with the new state in one HSET below.
  local timeline = r[7]
  local fields = { 'output', output, 'error', err, 'duration_ms', duration }
  if r[6] ~= r[3] then
    fields[#fields + 1] = 'acked_at'; fields[#fields + 1] = nowText
    fields[#fields + 1] = 'acked_attempt'; fields[#fields + 1] = attemptText
    timeline = withStep(timeline, step('acked', nowText, replica, attemptText))
  end
  fields[#fields + 1] = 'timeline'
  fields[#fields + 1] = withStep(timeline, step(outcome, nowText, replica, attemptText, string.sub(err, 1, 200)))

  -- Finishes the command; `eventType` nil when a dead letter emits the event instead.
  local function finish(newState, eventType)
    moveState(key, id, r[8], state, newState, 'finished_at', nowText, unpack(fields))
    local ids = leftMailbox[mailbox]
    if not ids then ids = {}; leftMailbox[mailbox] = ids end
    ids[#ids + 1] = id
    finished[#finished + 1] = id
    redis.call('PEXPIRE', key, retention)
    if parentId then childFinished(parentId, newState) end
    if eventType then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', eventsCap, '*', 'type', eventType, 'command_id', id,
        'agent_id', agentId, 'replica', replica, 'attempt', attemptText, unpack(tail))
    end
  end

  if outcome == 'succeeded' or outcome == 'cancelled' then
    finish(outcome, 'command_' .. outcome)
    return REPLY.FINISHED, 0
  end

  redis.call('XADD', KEYS[1], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_failed', 'command_id', id,
    'agent_id', agentId, 'replica', replica, 'attempt', attemptText, 'error', string.sub(err, 1, 200), unpack(tail))
  if permanent == '1' or attempt >= tonumber(r[4]) then
    fields[#fields + 1] = 'dead_reason'; fields[#fields + 1] = 'failed'
    finish('failed', nil)
    local c = redis.call('HMGET', key, 'command_type', 'payload', 'priority', 'correlation_id', 'max_attempts', 'source_id')
    local original = { 'type', 'command_issued', 'target', agentId, 'command_id', id, 'command_type', c[1],
      'payload', c[2], 'priority', c[3], 'correlation_id', c[4], 'max_attempts', c[5] }
    if parentId then original[#original + 1] = 'parent_id'; original[#original + 1] = parentId end
    deadLetter(KEYS[2], dlqCap, KEYS[1], eventsCap, original, 'failed', err, attempt, c[6] or '', replica, now, dlqPayloadCap)
    return REPLY.FINISHED, 0
  end

  local delay = math.floor(math.min(retryMax, retryBase * 2 ^ (attempt - 1)))
  local retryAt = now + delay
  moveState(key, id, r[8], state, 'retrying', 'attempt', attempt + 1, 'not_before', retryAt, unpack(fields))
  backToReady(mailbox, id)
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_retrying', 'command_id', id,
    'agent_id', agentId, 'replica', replica, 'attempt', attempt + 1, 'retry_at', retryAt, unpack(tail))
  return REPLY.RETRYING, delay
end

for i = 0, n - 1 do
  local b = 12 + i * 10
  local code, retryIn = apply(ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6],
    ARGV[b + 7], ARGV[b + 8], ARGV[b + 9], ARGV[b + 10])
  out[#out + 1] = code
  out[#out + 1] = retryIn
end

for mailbox, ids in pairs(leftMailbox) do redis.call('ZREM', mailbox, unpack(ids)) end
if #finished > 0 then redis.call('ZREM', KEYS[3], unpack(finished)) end

local refills, refilled = {}, 0
for _, agentId in ipairs(order) do
  local a = agents[agentId]
  if a.epoch then
    local inflight = math.max(0, a.inflight - a.left)
    local commands = {}
    local picked, nextDue = pickReady(mailboxPrefix .. agentId, agentId, a.epoch, a.window - inflight, a.window * 4 + 16,
      commandPrefix, KEYS[1], eventsCap, replica, now, nowText, commands)
    if a.left > 0 or picked > 0 then redis.call('HSET', agentPrefix .. agentId, 'inflight', tostring(inflight + picked)) end
    if picked > 0 or nextDue > 0 then
      refilled = refilled + 1
      refills[#refills + 1] = agentId
      refills[#refills + 1] = nextDue
      refills[#refills + 1] = picked
      for _, v in ipairs(commands) do refills[#refills + 1] = v end
    end
  end
end
flushParents({ commandPrefix = commandPrefix, due = KEYS[5], events = KEYS[1], eventsCap = eventsCap, replica = replica,
  now = now, nowText = nowText, retention = tonumber(retention) })
countStates(KEYS[4], indexPrefix)

out[#out + 1] = refilled
for _, v in ipairs(refills) do out[#out + 1] = v end
return out
