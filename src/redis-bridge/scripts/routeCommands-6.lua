--[[
  Routes a chunk of valid ingress entries in one step. For each entry, in order: records the
  command (deduplicated by command id; its timeline starts in the record), appends it to the
  target's mailbox and emits `command_queued`. When the target's session has a free slot in
  its window and nothing waits before it, the command is delivered at once (recorded as
  delivered to that session's epoch, in the mailbox's in-flight band, `command_delivered`):
  returned to the caller when the caller owns the session, else pushed to the owner over its
  bell (one pub/sub message per owner and chunk). Otherwise, unless the window is full (the
  results that free it refill it), the agent is marked in its owner's wake set. Then every handled entry is XACKed, the TTL deadlines set and the
  commands counted at once. Fenced per entry: only the consumer the entry is pending for may
  route it. Delivered too often -> dead-lettered `poison` instead. Per-command keys are built
  from the prefixes in ARGV (same hash tag as KEYS on Redis Cluster).

  A push that the owner cannot act on (its session ended or is not registered yet, or the
  message was lost with its pub/sub connection) is not lost: the command stays in flight to
  that epoch, so the session's first delivery run (or a resend run) sends it, and a new
  session takes it back to the ready band (connectAgent).

  Input:
    KEYS[1] ingress stream          KEYS[4] command sequence counter
    KEYS[2] events stream           KEYS[5] command deadlines (zset)
    KEYS[3] dead-letter stream      KEYS[6] command counts by state (hash)

    ARGV[1] group                   ARGV[8]  dlq payload cap (bytes)
    ARGV[2] consumer                ARGV[9]  command record key prefix (`<prefix>:command:`)
    ARGV[3] poison threshold        ARGV[10] mailbox key prefix
    ARGV[4] record retention after the TTL (ms)   ARGV[11] agent record key prefix
    ARGV[5] mailbox cap             ARGV[12] replica key prefix (`<prefix>:replica:`)
    ARGV[6] events cap              ARGV[13] bell channel suffix (`:bell`)
    ARGV[7] dlq cap                 ARGV[14] wake set suffix (`:wake`)
                                    ARGV[15] wake set TTL (ms)
                                    ARGV[16] command index key prefix (`<prefix>:idx:`)
                                    ARGV[17] index life (ms): the longest a record lives
                                    ARGV[18] n, the number of entries
    ARGV[19..] n x 12: entry id, command id, target, command type, payload, priority (1..10),
                      correlation id, max attempts, ttl (ms), requested by (`<role>/<name>`
                      or ''), redrive of (dead letter id or ''), parent id (or '')

  Output: n x 4, per entry in order: outcome, owner replica or '', and for `delivered` the
  session's epoch and the command's expiry (ms), else '' and ''
    'delivered'     recorded and delivered at once to the owner's session of that epoch
                    (the caller sends it when it is the owner; else it was pushed)
    'queued'        recorded and mailboxed (owner: the replica to wake for it, if any)
    'duplicate'     the command id was seen before: acknowledged, nothing else
    'poison'        dead-lettered after too many deliveries
    'mailbox_full'  dead-lettered: the target's mailbox is at its cap
    'not_owner'     the entry is no longer pending for this consumer: nothing done
    'error', reason Redis refused the target's mailbox or agent record (a key of another
                    type): nothing done, the entry stays pending (and ends as poison), and
                    the other entries are routed
]]
--- @include "includes/now.lua"
--- @include "includes/pendingFor.lua"
--- @include "includes/deadLetter.lua"
--- @include "includes/timeline.lua"
--- @include "includes/mailboxBands.lua"
--- @include "includes/commandIndex.lua"

local group, consumer = ARGV[1], ARGV[2]
local poisonAfter, retention, mailboxCap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local eventsCap, dlqCap, dlqPayloadCap = ARGV[6], ARGV[7], tonumber(ARGV[8])
local commandPrefix, mailboxPrefix, agentPrefix, replicaPrefix = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local bellSuffix, wakeSuffix, wakeTtl = ARGV[13], ARGV[14], ARGV[15]
local indexPrefix, indexLife = ARGV[16], tonumber(ARGV[17])
local n = tonumber(ARGV[18])
-- Values per entry in ARGV.
local ENTRY = 12
local now, nowText = nowMs()
-- Arrival numbers for the whole chunk in one step (orders equal priorities in a mailbox).
local seq = redis.call('INCRBY', KEYS[4], n) - n
local seqStart = seq
-- Which entries are still pending for this consumer, and how often delivered: one range read.
local entryIds = {}
for e = 0, n - 1 do entryIds[e + 1] = ARGV[19 + e * ENTRY] end
local deliveriesOf = pendingForAll(KEYS[1], group, entryIds, consumer)

local out, acks, deadlines, wakes, pushes = {}, {}, {}, {}, {}
local queued, delivered = 0, 0
-- Per target of the chunk, read once (with pcall: a key Redis refuses fails its entries
-- alone, before anything of them is written) and kept current here: mailbox size, owner,
-- session epoch, window and in-flight count, and how many ready commands wait.
local targets, targetOrder = {}, {}
local function targetOf(target)
  local t = targets[target]
  if t then return t end
  local mailbox = mailboxPrefix .. target
  local size = redis.pcall('ZCARD', mailbox)
  local agent = redis.pcall('HMGET', agentPrefix .. target, 'replica', 'state', 'epoch', 'window', 'inflight')
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
  targets[target] = t
  targetOrder[#targetOrder + 1] = target
  return t
end
-- The entry at ARGV[b + 1 .. b + 9] as a dead letter shows it (built only on those paths).
local function original(b)
  return { 'type', 'command_issued', 'target', ARGV[b + 3], 'command_id', ARGV[b + 2], 'command_type', ARGV[b + 4],
    'payload', ARGV[b + 5], 'priority', ARGV[b + 6], 'correlation_id', ARGV[b + 7], 'max_attempts', ARGV[b + 8],
    'ttl_ms', ARGV[b + 9] }
end

for e = 0, n - 1 do
  local b = 18 + e * ENTRY
  local entryId, id, target, ctype, payload = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local priority, correlation, maxAttempts, ttl = ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], tonumber(ARGV[b + 9])
  local requestedBy, redriveOf, parentId = ARGV[b + 10], ARGV[b + 11], ARGV[b + 12]
  local outcome, owner, epoch, expireAt = 'queued', '', '', ''
  local deliveries = deliveriesOf(entryId)
  local key = commandPrefix .. id
  if not deliveries then
    outcome = 'not_owner'
  elseif deliveries > poisonAfter then
    outcome = 'poison'
    deadLetter(KEYS[3], dlqCap, KEYS[2], eventsCap, original(b), 'poison',
      'delivered ' .. deliveries .. ' times without being routed', deliveries, entryId, consumer, now, dlqPayloadCap)
  elseif redis.call('EXISTS', key) == 1 then
    outcome = 'duplicate'
  else
    local t = targetOf(target)
    if t.err then
      outcome, owner = 'error', t.err
    elseif t.size >= mailboxCap then
      outcome = 'mailbox_full'
      deadLetter(KEYS[3], dlqCap, KEYS[2], eventsCap, original(b), 'mailbox_full',
        'mailbox of ' .. target .. ' holds ' .. ARGV[5] .. ' commands', 0, entryId, consumer, now, dlqPayloadCap)
    else
      -- Times and counts go to redis.call as text where they are only written (includes/now.lua).
      expireAt = tostring(now + ttl)
      -- Priority first (10 = highest sorts first), then arrival.
      seq = seq + 1
      local score = readyScore(priority, seq)
      local timeline = step('queued', nowText, consumer, nil, requestedBy ~= '' and ('by ' .. requestedBy) or nil)
      -- t.ready is known only when the session has a free slot (see targetOf).
      local deliverNow = t.ready == 0 and t.inflight < t.window
      if deliverNow then
        outcome, owner, epoch = 'delivered', t.owner, t.epoch
        redis.call('HSET', key, 'command_id', id, 'target', target, 'command_type', ctype, 'payload', payload,
          'priority', priority, 'correlation_id', correlation, 'max_attempts', maxAttempts, 'ttl_ms', ARGV[b + 9],
          'expire_at', expireAt, 'attempt', '1', 'deliveries', '1', 'handled_by', consumer, 'source_id', entryId,
          'queued_at', nowText, 'state', 'delivered', 'delivered_epoch', epoch, 'delivered_by', owner,
          'delivered_at', nowText, 'timeline', timeline .. '\n' .. step('delivered', nowText, owner, '1'))
        score = score + IN_FLIGHT
      else
        redis.call('HSET', key, 'command_id', id, 'target', target, 'command_type', ctype, 'payload', payload,
          'priority', priority, 'correlation_id', correlation, 'max_attempts', maxAttempts, 'ttl_ms', ARGV[b + 9],
          'expire_at', expireAt, 'attempt', '1', 'deliveries', '0', 'handled_by', consumer, 'source_id', entryId,
          'queued_at', nowText, 'state', 'queued', 'timeline', timeline)
      end
      -- Operator-submitted, redriven or fan-out commands only: a plain XADD pays nothing here.
      if requestedBy ~= '' or redriveOf ~= '' or parentId ~= '' then
        redis.call('HSET', key, 'requested_by', requestedBy, 'redrive_of', redriveOf, 'parent_id', parentId)
      end
      indexNewCommand(indexPrefix, nowText, id, deliverNow and 'delivered' or 'queued', target, ctype, correlation, parentId)
      -- Added to the mailbox with the others for this target at the end (one ZADD).
      t.adds[#t.adds + 1] = score
      t.adds[#t.adds + 1] = id
      redis.call('PEXPIRE', key, ttl + retention)
      t.size = t.size + 1
      deadlines[#deadlines + 1] = expireAt
      deadlines[#deadlines + 1] = id
      if requestedBy ~= '' then
        redis.call('XADD', KEYS[2], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_queued', 'command_id', id,
          'agent_id', target, 'replica', consumer, 'source_id', entryId, 'by', requestedBy, 'ts', nowText)
      else
        redis.call('XADD', KEYS[2], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_queued', 'command_id', id,
          'agent_id', target, 'replica', consumer, 'source_id', entryId, 'ts', nowText)
      end
      if deliverNow then
        redis.call('XADD', KEYS[2], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_delivered', 'command_id', id,
          'agent_id', target, 'replica', owner, 'attempt', '1', 'ts', nowText)
        delivered = delivered + 1
        t.inflight = t.inflight + 1
        t.pushed = t.pushed + 1
        if owner ~= consumer then
          local push = pushes[owner]
          if not push then push = {}; pushes[owner] = push end
          local commands = push[target]
          if not commands then commands = {}; push[target] = commands end
          commands[#commands + 1] = { id, ctype, payload, priority, '1', correlation, expireAt }
        end
      else
        queued = queued + 1
        if t.ready then t.ready = t.ready + 1 end
        -- A full window is refilled by the results that free it: no delivery run needed.
        if t.owner and not (t.window and t.inflight >= t.window) then
          owner = t.owner
          local wake = wakes[owner]
          if not wake then wake = {}; wakes[owner] = wake end
          wake[#wake + 1] = target
        end
      end
    end
  end
  if outcome ~= 'not_owner' and outcome ~= 'error' then acks[#acks + 1] = entryId end
  out[#out + 1] = outcome
  out[#out + 1] = owner
  out[#out + 1] = epoch
  out[#out + 1] = outcome == 'delivered' and expireAt or ''
end

if #acks > 0 then redis.call('XACK', KEYS[1], group, unpack(acks)) end
-- Every 256 arrivals, the per-target/type sets written now also lose what is older than any record.
indexFlushNew(indexPrefix, indexLife, math.floor(seq / 256) ~= math.floor(seqStart / 256) and (now - indexLife) or nil)
if #deadlines > 0 then redis.call('ZADD', KEYS[5], unpack(deadlines)) end
if queued > 0 then redis.call('HINCRBY', KEYS[6], 'queued', queued) end
if delivered > 0 then redis.call('HINCRBY', KEYS[6], 'delivered', delivered) end
for _, target in ipairs(targetOrder) do
  local t = targets[target]
  if t.adds and #t.adds > 0 then redis.call('ZADD', t.mailbox, unpack(t.adds)) end
  if t.pushed and t.pushed > 0 then redis.call('HSET', agentPrefix .. target, 'inflight', tostring(t.inflight)) end
end
for owner, byAgent in pairs(pushes) do
  local agents = {}
  for target, commands in pairs(byAgent) do
    agents[#agents + 1] = { agentId = target, epoch = targets[target].epoch, commands = commands }
  end
  redis.call('PUBLISH', replicaPrefix .. owner .. bellSuffix, cjson.encode({ kind = 'commands', agents = agents }))
end
for owner, ids in pairs(wakes) do
  local wake = replicaPrefix .. owner .. wakeSuffix
  redis.call('SADD', wake, unpack(ids))
  redis.call('PEXPIRE', wake, wakeTtl)
end
return out
