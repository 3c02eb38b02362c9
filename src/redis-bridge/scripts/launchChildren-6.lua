--[[
  Moves one fan-out parent along by at most one chunk. Any replica may run it (Redis
  serializes the calls); the parent's counters are the cursor, so a replica that dies between
  calls loses nothing and a child is never created twice.

  Launching: creates the next children in agent-id order, `<parent id>/<agent id>`, each with
  the parent's type, payload, priority, TTL, attempts, correlation id and submitter, admitted
  like routed commands (includes/admitCommand.lua): at most the chunk, and with a `batch`, only
  as many as keep `batch` children running. The parent stays on the due list while more can
  start now; a finishing child puts it back (includes/fanoutParent.lua).
  Cancelling (the parent's cancel was requested): walks the launched children from the
  parent's `cancel_cursor`, a chunk at a time: a queued or retrying child is cancelled at once,
  a delivered one is flagged for its owner to send `cancel` to the agent.

  Input:
    KEYS[1] events stream    KEYS[3] command sequence     KEYS[5] command counts by state (hash)
    KEYS[2] dlq stream       KEYS[4] command deadlines    KEYS[6] fan-outs due (zset)

    ARGV[1] command record prefix  ARGV[2] mailbox prefix  ARGV[3] agent record prefix  ARGV[4] replica prefix
    ARGV[5] bell suffix  ARGV[6] wake suffix  ARGV[7] wake set TTL (ms)
    ARGV[8] command index prefix  ARGV[9] index life (ms)  ARGV[10] record retention after the TTL (ms)
    ARGV[11] mailbox cap  ARGV[12] events cap  ARGV[13] dlq cap  ARGV[14] dlq payload cap (bytes)
    ARGV[15] replica id  ARGV[16] fan-out agents prefix  ARGV[17] requested-cancels prefix
    ARGV[18] chunk (most children per call)  ARGV[19] parent id

  Output: { phase, more, command type, payload, priority, correlation id, k, k x (child id,
  agent, outcome, owner, epoch, expire at) }
    phase 'launch' (k children admitted; outcome as the route script's), 'cancel' (k children
    walked; outcome 'cancelled' or 'cancel_requested' with the owner to ring), or 'idle'
    (nothing to do now: finished, waiting for running children, or gone); more = 1 when the
    caller should call again at once.
]]
--- @include "includes/now.lua"
--- @include "includes/admitCommand.lua"
--- @include "includes/fanoutParent.lua"

local parentId, chunk, replica = ARGV[19], tonumber(ARGV[18]), ARGV[15]
local key = ARGV[1] .. parentId
local now, nowText = nowMs()
-- Not due yet by the Redis clock (a batch wait still runs): nothing now.
local dueAt = redis.call('ZSCORE', KEYS[6], parentId)
if dueAt and tonumber(dueAt) > now then return { 'idle', 0, '', '', '', '', 0 } end
local p = readParent(key)
if not p or PARENT_DONE[p.state] then
  redis.call('ZREM', KEYS[6], parentId)
  return { 'idle', 0, '', '', '', '', 0 }
end
local F = { commandPrefix = ARGV[1], due = KEYS[6], events = KEYS[1], eventsCap = ARGV[12], replica = replica,
  now = now, nowText = nowText, retention = tonumber(ARGV[10]) }
local members = ARGV[16] .. parentId
local out = {}

if p.cancelRequested then
  local from = tonumber(redis.call('HGET', key, 'cancel_cursor')) or 0
  local upto = math.min(p.launched, from + chunk) - 1
  local agents = upto >= from and redis.call('ZRANGE', members, from, upto) or {}
  local k = 0
  for _, agent in ipairs(agents) do
    local id = parentId .. '/' .. agent
    local ck = ARGV[1] .. id
    local r = redis.call('HMGET', ck, 'state', 'timeline', 'queued_at')
    local outcome, owner = '', ''
    if r[1] == 'queued' or r[1] == 'retrying' then
      moveState(ck, id, r[3], r[1], 'cancelled', 'finished_at', nowText, 'error', 'cancelled before delivery: parent cancelled',
        'timeline', withStep(r[2], step('cancelled', nowText, replica, nil, 'parent cancelled')))
      redis.call('ZREM', ARGV[2] .. agent, id)
      redis.call('ZREM', KEYS[4], id)
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[12], '*', 'type', 'command_cancelled', 'command_id', id,
        'agent_id', agent, 'replica', replica, 'parent_id', parentId, 'ts', nowText)
      childFinished(parentId, 'cancelled')
      outcome = 'cancelled'
    elseif r[1] == 'delivered' then
      redis.call('HSET', ck, 'cancel_requested', now,
        'timeline', withStep(r[2], step('cancel_requested', nowText, replica, nil, 'parent cancelled')))
      redis.call('SADD', ARGV[17] .. agent, id)
      redis.call('PEXPIRE', ARGV[17] .. agent, ARGV[7])
      owner = redis.call('HGET', ARGV[3] .. agent, 'replica') or ''
      if owner ~= '' then
        redis.call('SADD', ARGV[4] .. owner .. ARGV[6], agent)
        redis.call('PEXPIRE', ARGV[4] .. owner .. ARGV[6], ARGV[7])
      end
      outcome = 'cancel_requested'
    end
    if outcome ~= '' then
      k = k + 1
      out[#out + 1] = id; out[#out + 1] = agent; out[#out + 1] = outcome
      out[#out + 1] = owner; out[#out + 1] = ''; out[#out + 1] = ''
    end
  end
  local more = upto + 1 < p.launched
  redis.call('HSET', key, 'cancel_cursor', upto + 1)
  if not more then redis.call('ZREM', KEYS[6], parentId) end
  flushParents(F)
  -- Nothing was running: the parent ends here.
  if not more then
    local q = readParent(key)
    if q and not PARENT_DONE[q.state] and q.finished >= q.launched then finishParent(F, parentId, key, q) end
  end
  countStates(KEYS[5], ARGV[8])
  local head = { 'cancel', more and 1 or 0, '', '', '', '', k }
  for _, v in ipairs(out) do head[#head + 1] = v end
  return head
end

local pending = p.matched - p.launched - p.notStarted
local running = p.launched - p.finished
local room = pending
if p.batch > 0 then room = math.min(room, p.batch - running) end
local k = math.min(room, chunk)
if k <= 0 then
  redis.call('ZREM', KEYS[6], parentId)
  return { 'idle', 0, '', '', '', '', 0 }
end

ADMIT = { events = KEYS[1], eventsCap = ARGV[12], dlq = KEYS[2], dlqCap = ARGV[13], dlqPayloadCap = tonumber(ARGV[14]),
  deadlines = KEYS[4], counts = KEYS[5], commandPrefix = ARGV[1], mailboxPrefix = ARGV[2], agentPrefix = ARGV[3],
  replicaPrefix = ARGV[4], bellSuffix = ARGV[5], wakeSuffix = ARGV[6], wakeTtl = ARGV[7], indexPrefix = ARGV[8],
  mailboxCap = tonumber(ARGV[11]), retention = tonumber(ARGV[10]), consumer = replica, now = now, nowText = nowText }
local f = redis.call('HMGET', key, 'command_type', 'payload', 'priority', 'correlation_id', 'max_attempts', 'requested_by', 'source_id')
local agents = redis.call('ZRANGE', members, p.launched, p.launched + k - 1)
local seq = redis.call('INCRBY', KEYS[3], #agents) - #agents
local admitted = 0
for _, agent in ipairs(agents) do
  local id = parentId .. '/' .. agent
  seq = seq + 1
  local c = { sourceId = f[7] or '', id = id, target = agent, ctype = f[1], payload = f[2], priority = f[3],
    correlation = f[4], maxAttempts = f[5], ttl = tostring(p.ttl), requestedBy = f[6] or '', redriveOf = '', parentId = parentId }
  local outcome, owner, epoch, expireAt
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    outcome, owner, epoch, expireAt = 'duplicate', '', '', ''
  else
    outcome, owner, epoch, expireAt = admitCommand(c, seq)
  end
  if outcome == 'mailbox_full' or outcome == 'error' or outcome == 'duplicate' then
    -- Dead-lettered (mailbox_full), a key Redis refuses, or the id taken by another command:
    -- that child counts as dead, the rest go on.
    childFinished(parentId, 'dead')
  end
  admitted = admitted + 1
  out[#out + 1] = id; out[#out + 1] = agent; out[#out + 1] = outcome
  out[#out + 1] = owner; out[#out + 1] = epoch; out[#out + 1] = expireAt
end
redis.call('HINCRBY', key, 'launched', admitted)
if p.launched == 0 then
  moveState(key, parentId, p.created, p.state, 'delivered',
    'timeline', withStep(p.timeline, step('running', nowText, replica, nil, p.batch > 0 and (p.batch .. ' at a time') or nil)))
end
redis.call('PEXPIRE', key, p.ttl + F.retention)
redis.call('PEXPIRE', members, p.ttl + F.retention)
local more = pending - admitted > 0 and (p.batch == 0 or running + admitted < p.batch)
if more then redis.call('ZADD', KEYS[6], now, parentId) else redis.call('ZREM', KEYS[6], parentId) end
admitFlush(tonumber(ARGV[9]), nil)
flushParents(F)
countStates(KEYS[5], ARGV[8])
local head = { 'launch', more and 1 or 0, f[1], f[2], f[3], f[4], admitted }
for _, v in ipairs(out) do head[#head + 1] = v end
return head
