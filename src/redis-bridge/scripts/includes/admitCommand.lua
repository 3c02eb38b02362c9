-- Admits new commands to their targets' mailboxes: the part of routing shared by the route
-- script (ingress entries), the fan-out launcher (children) and `pick any` placement. The
-- script sets `ADMIT` (keys, caps, prefixes, its replica and the time) once, calls
-- admitCommand per command and admitFlush once at the end, which writes what was collected
-- (one ZADD per mailbox, one HINCRBY per state, one PUBLISH per owner, one SADD per wake set).
-- A command is delivered at once when its target's session has a free slot in its window and
-- nothing ready waits before it: recorded as delivered to that session's epoch and returned to
-- the caller when the caller owns the session, else pushed to the owner over its bell.
-- Otherwise, unless the window is full (the results that free it refill it), the agent is
-- marked in its owner's wake set.
--- @include "includes/deadLetter.lua"
--- @include "includes/timeline.lua"
--- @include "includes/mailboxBands.lua"
--- @include "includes/commandIndex.lua"

-- Set by the script: events, eventsCap, dlq, dlqCap, dlqPayloadCap, deadlines, counts,
-- commandPrefix, mailboxPrefix, agentPrefix, replicaPrefix, bellSuffix, wakeSuffix, wakeTtl,
-- indexPrefix, mailboxCap, retention (ms after the TTL), consumer, now, nowText.
local ADMIT = {}

-- Per target, read once per script call (with pcall: a key Redis refuses fails its commands
-- alone, before anything of them is written) and kept current here: mailbox size, owner,
-- session epoch, window and in-flight count, and how many ready commands wait.
local admitTargets, admitTargetOrder = {}, {}
local admitDeadlines, admitWakes, admitPushes = {}, {}, {}
local admitQueued, admitDelivered = 0, 0

local function admitTarget(target)
  local t = admitTargets[target]
  if t then return t end
  local mailbox = ADMIT.mailboxPrefix .. target
  local size = redis.pcall('ZCARD', mailbox)
  local agent = redis.pcall('HMGET', ADMIT.agentPrefix .. target, 'replica', 'state', 'epoch', 'window', 'inflight')
  if type(size) == 'table' then t = { err = size.err }
  elseif agent.err then t = { err = agent.err }
  else
    local online = agent[1] and agent[2] ~= 'offline'
    t = { mailbox = mailbox, size = size, owner = online and agent[1] or false, epoch = agent[3],
      window = tonumber(agent[4]), inflight = tonumber(agent[5]) or 0, pushed = 0, adds = {} }
    -- Delivered at once only in order: when no ready command waits before it.
    if t.owner and t.epoch and t.window and t.inflight < t.window then
      t.ready = redis.call('ZCOUNT', mailbox, '-inf', '(' .. IN_FLIGHT)
    end
  end
  admitTargets[target] = t
  admitTargetOrder[#admitTargetOrder + 1] = target
  return t
end

-- The command `c` as a dead letter shows it (built only on that path).
local function admitOriginal(c)
  local f = { 'type', 'command_issued', 'target', c.target, 'command_id', c.id, 'command_type', c.ctype,
    'payload', c.payload, 'priority', c.priority, 'correlation_id', c.correlation, 'max_attempts', c.maxAttempts,
    'ttl_ms', c.ttl }
  if c.parentId ~= '' then f[#f + 1] = 'parent_id'; f[#f + 1] = c.parentId end
  return f
end

-- Admits command `c` (fields: id, target, ctype, payload, priority, correlation, maxAttempts,
-- ttl, requestedBy, redriveOf, parentId, sourceId, all text; seq: its arrival number; and
-- `waited`, the creation time, when the record exists already as a waiting `pick any`
-- command counted `queued`). Returns outcome ('delivered' | 'queued' | 'mailbox_full' |
-- 'error'), owner replica (or Redis' error), epoch and expiry (ms, text) when delivered.
local function admitCommand(c, seq)
  local A = ADMIT
  local t = admitTarget(c.target)
  if t.err then return 'error', t.err, '', '' end
  if t.size >= A.mailboxCap then
    deadLetter(A.dlq, A.dlqCap, A.events, A.eventsCap, admitOriginal(c), 'mailbox_full',
      'mailbox of ' .. c.target .. ' holds ' .. A.mailboxCap .. ' commands', 0, c.sourceId, A.consumer, A.now, A.dlqPayloadCap)
    return 'mailbox_full', '', '', ''
  end
  local key, id, nowText = A.commandPrefix .. c.id, c.id, A.nowText
  local outcome, owner, epoch = 'queued', '', ''
  local created = c.waited or nowText
  -- A waiting command keeps its expiry; a new one starts its TTL now.
  local expireAt = c.expireAt or tostring(A.now + tonumber(c.ttl))
  -- Priority first (10 = highest sorts first), then arrival.
  local score = readyScore(c.priority, seq)
  local queuedStep = c.waited and step('placed', nowText, A.consumer, nil, 'on ' .. c.target)
    or step('queued', nowText, A.consumer, nil, c.requestedBy ~= '' and ('by ' .. c.requestedBy) or nil)
  local timeline = c.waited and withStep(c.timeline, queuedStep) or queuedStep
  -- t.ready is known only when the session has a free slot (see admitTarget).
  local deliverNow = t.ready == 0 and t.inflight < t.window
  if deliverNow then
    outcome, owner, epoch = 'delivered', t.owner, t.epoch
    redis.call('HSET', key, 'command_id', id, 'target', c.target, 'command_type', c.ctype, 'payload', c.payload,
      'priority', c.priority, 'correlation_id', c.correlation, 'max_attempts', c.maxAttempts, 'ttl_ms', c.ttl,
      'expire_at', expireAt, 'attempt', '1', 'deliveries', '1', 'handled_by', A.consumer, 'source_id', c.sourceId,
      'queued_at', created, 'state', 'delivered', 'delivered_epoch', epoch, 'delivered_by', owner,
      'delivered_at', nowText, 'timeline', withStep(timeline, step('delivered', nowText, owner, '1')))
    score = score + IN_FLIGHT
  else
    redis.call('HSET', key, 'command_id', id, 'target', c.target, 'command_type', c.ctype, 'payload', c.payload,
      'priority', c.priority, 'correlation_id', c.correlation, 'max_attempts', c.maxAttempts, 'ttl_ms', c.ttl,
      'expire_at', expireAt, 'attempt', '1', 'deliveries', '0', 'handled_by', A.consumer, 'source_id', c.sourceId,
      'queued_at', created, 'state', 'queued', 'timeline', timeline)
  end
  -- Operator-submitted, redriven or fan-out commands only: a plain XADD pays nothing here.
  if c.requestedBy ~= '' or c.redriveOf ~= '' or c.parentId ~= '' then
    redis.call('HSET', key, 'requested_by', c.requestedBy, 'redrive_of', c.redriveOf, 'parent_id', c.parentId)
  end
  if c.waited then
    -- Indexed and counted `queued` when it started waiting; only its target and state are new.
    indexPush(indexNew, indexKey(A.indexPrefix, 'target:', c.target), created, id)
    if deliverNow then
      indexStateMoved(id, created, 'queued', 'delivered')
      admitQueued = admitQueued - 1
    end
  else
    indexNewCommand(A.indexPrefix, created, id, deliverNow and 'delivered' or 'queued', c.target, c.ctype, c.correlation, c.parentId)
    redis.call('PEXPIRE', key, tonumber(c.ttl) + A.retention)
    admitDeadlines[#admitDeadlines + 1] = expireAt
    admitDeadlines[#admitDeadlines + 1] = id
  end
  -- Added to the mailbox with the others for this target at the end (one ZADD).
  t.adds[#t.adds + 1] = score
  t.adds[#t.adds + 1] = id
  t.size = t.size + 1
  if not c.waited then
    local e = { 'type', 'command_queued', 'command_id', id, 'agent_id', c.target, 'replica', A.consumer, 'source_id', c.sourceId }
    if c.requestedBy ~= '' then e[#e + 1] = 'by'; e[#e + 1] = c.requestedBy end
    if c.parentId ~= '' then e[#e + 1] = 'parent_id'; e[#e + 1] = c.parentId end
    e[#e + 1] = 'ts'; e[#e + 1] = nowText
    redis.call('XADD', A.events, 'MAXLEN', '~', A.eventsCap, '*', unpack(e))
  end
  if deliverNow then
    if c.parentId ~= '' then
      redis.call('XADD', A.events, 'MAXLEN', '~', A.eventsCap, '*', 'type', 'command_delivered', 'command_id', id,
        'agent_id', c.target, 'replica', owner, 'attempt', '1', 'parent_id', c.parentId, 'ts', nowText)
    else
      redis.call('XADD', A.events, 'MAXLEN', '~', A.eventsCap, '*', 'type', 'command_delivered', 'command_id', id,
        'agent_id', c.target, 'replica', owner, 'attempt', '1', 'ts', nowText)
    end
    admitDelivered = admitDelivered + 1
    t.inflight = t.inflight + 1
    t.pushed = t.pushed + 1
    if owner ~= A.consumer then
      local push = admitPushes[owner]
      if not push then push = {}; admitPushes[owner] = push end
      local commands = push[c.target]
      if not commands then commands = {}; push[c.target] = commands end
      commands[#commands + 1] = { id, c.ctype, c.payload, c.priority, '1', c.correlation, expireAt }
    end
  else
    admitQueued = admitQueued + 1
    if t.ready then t.ready = t.ready + 1 end
    -- A full window is refilled by the results that free it: no delivery run needed.
    if t.owner and not (t.window and t.inflight >= t.window) then
      owner = t.owner
      local wake = admitWakes[owner]
      if not wake then wake = {}; admitWakes[owner] = wake end
      wake[#wake + 1] = c.target
    end
  end
  return outcome, owner, epoch, outcome == 'delivered' and expireAt or ''
end

-- Writes what admitCommand collected. `trimBefore` (a time, ms, or nil): see indexFlushNew.
local function admitFlush(indexLife, trimBefore)
  local A = ADMIT
  indexFlushNew(A.indexPrefix, indexLife, trimBefore)
  if #admitDeadlines > 0 then redis.call('ZADD', A.deadlines, unpack(admitDeadlines)) end
  if admitQueued ~= 0 then redis.call('HINCRBY', A.counts, 'queued', admitQueued) end
  if admitDelivered > 0 then redis.call('HINCRBY', A.counts, 'delivered', admitDelivered) end
  for _, target in ipairs(admitTargetOrder) do
    local t = admitTargets[target]
    if t.adds and #t.adds > 0 then redis.call('ZADD', t.mailbox, unpack(t.adds)) end
    if t.pushed and t.pushed > 0 then redis.call('HSET', A.agentPrefix .. target, 'inflight', tostring(t.inflight)) end
  end
  for owner, byAgent in pairs(admitPushes) do
    local agents = {}
    for target, commands in pairs(byAgent) do
      agents[#agents + 1] = { agentId = target, epoch = admitTargets[target].epoch, commands = commands }
    end
    redis.call('PUBLISH', A.replicaPrefix .. owner .. A.bellSuffix, cjson.encode({ kind = 'commands', agents = agents }))
  end
  for owner, ids in pairs(admitWakes) do
    local wake = A.replicaPrefix .. owner .. A.wakeSuffix
    redis.call('SADD', wake, unpack(ids))
    redis.call('PEXPIRE', wake, A.wakeTtl)
  end
end
