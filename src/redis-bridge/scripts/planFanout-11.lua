--[[
  Handles an ingress entry that targets agents by `selector`, fenced like routing (only the
  consumer the entry is pending for may handle it; delivered too often -> `poison`).

  pick all: decides once which agents the command goes to and records it: the matching
  agents (the label index, includes/selectorMatch.lua) without the offline ones unless
  `include_offline` (those are kept as skipped), in the zset ARGV[19]..id, and the parent
  record (`fanout` 1, its rollout settings and counters; see docs/targeting.md). The parent
  goes on the due list, so whichever replica runs the launcher next (this one at once, or
  another if this one dies) creates the children, chunk by chunk. No agent, or more than
  MAX_FANOUT: dead-lettered (`no_match`, `invalid`) with the count.

  pick any: places the command on the least loaded matching agent with a free slot
  (includes/pickAgent.lua) and admits it there; with none free, records it as waiting
  (state queued, no target) in KEYS[8] until placeWaiting finds one, or its TTL ends.

  Input:
    KEYS[1] ingress stream          KEYS[7] fan-outs due (zset)
    KEYS[2] events stream           KEYS[8] commands waiting for an agent (zset)
    KEYS[3] dead-letter stream      KEYS[9] every known agent (zset)
    KEYS[4] command sequence        KEYS[10] agents online (zset)
    KEYS[5] command deadlines       KEYS[11] agents stale (zset)
    KEYS[6] command counts by state (hash)

    ARGV[1] group  ARGV[2] consumer  ARGV[3] poison threshold  ARGV[4] record retention after the TTL (ms)
    ARGV[5] mailbox cap  ARGV[6] events cap  ARGV[7] dlq cap  ARGV[8] dlq payload cap (bytes)
    ARGV[9] command record prefix  ARGV[10] mailbox prefix  ARGV[11] agent record prefix  ARGV[12] replica prefix
    ARGV[13] bell suffix  ARGV[14] wake suffix  ARGV[15] wake set TTL (ms)
    ARGV[16] command index prefix  ARGV[17] index life (ms)  ARGV[18] label index prefix
    ARGV[19] fan-out agents prefix  ARGV[20] fan-out skipped prefix  ARGV[21] MAX_FANOUT
    ARGV[22] entry id  ARGV[23] command id  ARGV[24] command type  ARGV[25] payload
    ARGV[26] priority  ARGV[27] correlation id  ARGV[28] max attempts  ARGV[29] ttl (ms)
    ARGV[30] requested by  ARGV[31] selector (as given)  ARGV[32] selector plan (JSON)
    ARGV[33] pick (all | any)  ARGV[34] batch count (0 = none)  ARGV[35] batch percent (0 = none)
    ARGV[36] batch as given  ARGV[37] max failures  ARGV[38] batch wait (ms)  ARGV[39] include offline (1/0)
    ARGV[40..] the entry's original fields (for a dead letter)

  Output:
    { 'planned', matched, skipped }      pick all: recorded; the caller launches the children
    { 'placed', outcome, owner, epoch, expire at, agent }   pick any: admitted to `agent`
                                         (outcome and the rest as the route script's)
    { 'waiting' }                        pick any: no free agent yet
    { 'no_match', error }                dead-lettered `no_match`
    { 'too_many', error }                dead-lettered `invalid`
    { 'duplicate' }  { 'poison' }  { 'not_owner' }
]]
--- @include "includes/now.lua"
--- @include "includes/pendingFor.lua"
--- @include "includes/deadLetter.lua"
--- @include "includes/admitCommand.lua"
--- @include "includes/pickAgent.lua"

local group, consumer, entryId, id = ARGV[1], ARGV[2], ARGV[22], ARGV[23]
local deliveries = pendingFor(KEYS[1], group, entryId, consumer)
if not deliveries then return { 'not_owner' } end
local now, nowText = nowMs()
local original = {}
for i = 40, #ARGV do original[#original + 1] = ARGV[i] end
local function refuse(reason, err, attempts)
  deadLetter(KEYS[3], ARGV[7], KEYS[2], ARGV[6], original, reason, err, attempts, entryId, consumer, now, tonumber(ARGV[8]))
  redis.call('HINCRBY', KEYS[6], 'dead', 1)
  redis.call('XACK', KEYS[1], group, entryId)
end
if deliveries > tonumber(ARGV[3]) then
  refuse('poison', 'delivered ' .. deliveries .. ' times without being routed', deliveries)
  return { 'poison' }
end
local key = ARGV[9] .. id
if redis.call('EXISTS', key) == 1 then
  redis.call('XACK', KEYS[1], group, entryId)
  return { 'duplicate' }
end

ADMIT = { events = KEYS[2], eventsCap = ARGV[6], dlq = KEYS[3], dlqCap = ARGV[7], dlqPayloadCap = tonumber(ARGV[8]),
  deadlines = KEYS[5], counts = KEYS[6], commandPrefix = ARGV[9], mailboxPrefix = ARGV[10], agentPrefix = ARGV[11],
  replicaPrefix = ARGV[12], bellSuffix = ARGV[13], wakeSuffix = ARGV[14], wakeTtl = ARGV[15], indexPrefix = ARGV[16],
  mailboxCap = tonumber(ARGV[5]), retention = tonumber(ARGV[4]), consumer = consumer, now = now, nowText = nowText }
local selector, planText, pick = ARGV[31], ARGV[32], ARGV[33]
local ttl, retention, indexPrefix = tonumber(ARGV[29]), tonumber(ARGV[4]), ARGV[16]
local requestedBy = ARGV[30]
local c = { sourceId = entryId, id = id, target = '', ctype = ARGV[24], payload = ARGV[25], priority = ARGV[26],
  correlation = ARGV[27], maxAttempts = ARGV[28], ttl = ARGV[29], requestedBy = requestedBy, redriveOf = '', parentId = '' }
local by = requestedBy ~= '' and ('by ' .. requestedBy .. ', ') or ''

-- Indexes a command that has no target (yet): by state, type and correlation id.
local function indexUntargeted()
  indexPush(indexNew, indexKey(indexPrefix, 'state:', 'queued'), nowText, id)
  indexPush(indexNew, indexKey(indexPrefix, 'type:', c.ctype), nowText, id)
  if c.correlation ~= '' then indexPush(indexNew, indexPrefix .. 'corr:' .. c.correlation, nowText, id) end
end

if pick == 'any' then
  local agent = pickAgent({ tmp = ARGV[19] .. id, labelPrefix = ARGV[18], allAgents = KEYS[9], online = KEYS[10],
    agentPrefix = ARGV[11] }, planText)
  if agent then
    c.target = agent
    local outcome, owner, epoch, expireAt = admitCommand(c, redis.call('INCR', KEYS[4]))
    if outcome == 'error' then return { 'error', owner } end
    redis.call('XACK', KEYS[1], group, entryId)
    if outcome == 'delivered' or outcome == 'queued' then
      redis.call('HSET', key, 'selector', selector, 'pick', 'any', 'requested_by', requestedBy)
    end
    admitFlush(tonumber(ARGV[17]), nil)
    return { 'placed', outcome, owner, epoch, expireAt, agent }
  end
  local expireAt = tostring(now + ttl)
  redis.call('HSET', key, 'command_id', id, 'target', '', 'command_type', c.ctype, 'payload', c.payload,
    'priority', c.priority, 'correlation_id', c.correlation, 'max_attempts', c.maxAttempts, 'ttl_ms', c.ttl,
    'expire_at', expireAt, 'attempt', '1', 'deliveries', '0', 'handled_by', consumer, 'source_id', entryId,
    'queued_at', nowText, 'state', 'queued', 'selector', selector, 'selector_plan', planText, 'pick', 'any',
    'requested_by', requestedBy,
    'timeline', step('queued', nowText, consumer, nil, by .. 'waiting for a free agent matching ' .. selector))
  redis.call('PEXPIRE', key, ttl + retention)
  redis.call('ZADD', KEYS[5], expireAt, id)
  redis.call('ZADD', KEYS[8], readyScore(c.priority, redis.call('INCR', KEYS[4])), id)
  redis.call('HINCRBY', KEYS[6], 'queued', 1)
  indexUntargeted()
  indexFlushNew(indexPrefix, tonumber(ARGV[17]), nil)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'type', 'command_queued', 'command_id', id, 'agent_id', '',
    'replica', consumer, 'source_id', entryId, 'selector', selector, 'by', requestedBy, 'ts', nowText)
  redis.call('XACK', KEYS[1], group, entryId)
  return { 'waiting' }
end

local members, skippedKey = ARGV[19] .. id, ARGV[20] .. id
local matched = selectorStore(members, ARGV[18], KEYS[9], cjson.decode(planText))
local skipped = 0
if ARGV[39] ~= '1' and matched > 0 then
  skipped = redis.call('ZDIFFSTORE', skippedKey, 3, members, KEYS[10], KEYS[11])
  if skipped > 0 then redis.call('ZDIFFSTORE', members, 2, members, skippedKey) end
  matched = matched - skipped
end
if matched == 0 or matched > tonumber(ARGV[21]) then
  redis.call('DEL', members, skippedKey)
  if matched == 0 then
    local err = 'selector ' .. selector .. ' matched no agent'
    if skipped > 0 then err = 'selector ' .. selector .. ' matched ' .. skipped .. ' agents, all offline (include_offline is not set)' end
    refuse('no_match', err, 0)
    return { 'no_match', err }
  end
  local err = 'selector ' .. selector .. ' matched ' .. matched .. ' agents; MAX_FANOUT is ' .. ARGV[21]
  refuse('invalid', err, 0)
  return { 'too_many', err }
end

local batch = tonumber(ARGV[34])
if tonumber(ARGV[35]) > 0 then batch = math.max(1, math.floor(matched * tonumber(ARGV[35]) / 100)) end
local plan = matched .. ' agents' .. (skipped > 0 and (', ' .. skipped .. ' offline skipped') or '')
  .. (batch > 0 and (', ' .. batch .. ' at a time') or '')
redis.call('HSET', key, 'command_id', id, 'target', '', 'command_type', c.ctype, 'payload', c.payload,
  'priority', c.priority, 'correlation_id', c.correlation, 'max_attempts', c.maxAttempts, 'ttl_ms', c.ttl,
  'handled_by', consumer, 'source_id', entryId, 'queued_at', nowText, 'state', 'queued', 'requested_by', requestedBy,
  'selector', selector, 'pick', 'all', 'fanout', '1', 'batch', batch, 'batch_spec', ARGV[36], 'max_failures', ARGV[37],
  'batch_wait_ms', ARGV[38], 'include_offline', ARGV[39], 'matched', matched, 'skipped', skipped, 'launched', 0,
  'finished', 0, 'not_started', 0, 'n_succeeded', 0, 'n_failed', 0, 'n_dead', 0, 'n_cancelled', 0,
  'timeline', step('queued', nowText, consumer, nil, by .. selector .. ': ' .. plan))
redis.call('PEXPIRE', key, ttl + retention)
redis.call('PEXPIRE', members, ttl + retention)
if skipped > 0 then redis.call('PEXPIRE', skippedKey, ttl + retention) end
redis.call('HINCRBY', KEYS[6], 'queued', 1)
indexUntargeted()
indexFlushNew(indexPrefix, tonumber(ARGV[17]), nil)
redis.call('ZADD', KEYS[7], now, id)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'type', 'command_queued', 'command_id', id, 'agent_id', '',
  'replica', consumer, 'source_id', entryId, 'selector', selector, 'matched', matched, 'skipped', skipped,
  'by', requestedBy, 'ts', nowText)
redis.call('XACK', KEYS[1], group, entryId)
return { 'planned', matched, skipped }
