--[[
  Routes a chunk of valid ingress entries in one step. For each entry, in order: records the
  command (deduplicated by command id; its timeline starts in the record), appends it to the
  target's mailbox, emits `command_queued`, and marks the agent in its owner's wake set; then
  XACKs every handled entry, sets the TTL deadlines and counts the queued commands at once. Fenced per entry: only the consumer the entry is pending for may route it.
  Delivered too often -> dead-lettered `poison` instead. Per-command keys are built from the
  prefixes in ARGV (same hash tag as KEYS on Redis Cluster).

  Input:
    KEYS[1] ingress stream          KEYS[4] command sequence counter
    KEYS[2] events stream           KEYS[5] command deadlines (zset)
    KEYS[3] dead-letter stream      KEYS[6] command counts by state (hash)

    ARGV[1] group                   ARGV[8]  dlq payload cap (bytes)
    ARGV[2] consumer                ARGV[9]  command record key prefix (`<prefix>:command:`)
    ARGV[3] poison threshold        ARGV[10] mailbox key prefix
    ARGV[4] record retention after the TTL (ms)   ARGV[11] agent record key prefix
    ARGV[5] mailbox cap             ARGV[12] replica key prefix (`<prefix>:replica:`)
    ARGV[6] events cap              ARGV[13] n, the number of entries
    ARGV[7] dlq cap
    ARGV[14..] n x 9: entry id, command id, target, command type, payload, priority (1..10),
                      correlation id, max attempts, ttl (ms)

  Output: n x 2, per entry in order: outcome, owner replica or ''
    'queued'        recorded and mailboxed (owner: the replica holding the target, if any)
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

local group, consumer = ARGV[1], ARGV[2]
local poisonAfter, retention, mailboxCap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local eventsCap, dlqCap, dlqPayloadCap = ARGV[6], ARGV[7], tonumber(ARGV[8])
local commandPrefix, mailboxPrefix, agentPrefix, replicaPrefix = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local n = tonumber(ARGV[13])
local now, nowText = nowMs()
-- Arrival numbers for the whole chunk in one step (orders equal priorities in a mailbox).
local seq = redis.call('INCRBY', KEYS[4], n) - n

local out, acks, deadlines, wakes, owners = {}, {}, {}, {}, {}
local queued = 0
-- The entry at ARGV[b + 1 .. b + 9] as a dead letter shows it (built only on those paths).
local function original(b)
  return { 'type', 'command_issued', 'target', ARGV[b + 3], 'command_id', ARGV[b + 2], 'command_type', ARGV[b + 4],
    'payload', ARGV[b + 5], 'priority', ARGV[b + 6], 'correlation_id', ARGV[b + 7], 'max_attempts', ARGV[b + 8],
    'ttl_ms', ARGV[b + 9] }
end

for e = 0, n - 1 do
  local b = 13 + e * 9
  local entryId, id, target, ctype, payload = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local priority, correlation, maxAttempts, ttl = ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], tonumber(ARGV[b + 9])
  local outcome, owner = 'queued', ''
  local deliveries = pendingFor(KEYS[1], group, entryId, consumer)
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
    -- The target's keys are read first, with pcall: one that Redis refuses fails this entry
    -- alone, before anything of it is written (a script stopped by an error keeps its writes).
    local size = redis.pcall('ZCARD', mailboxPrefix .. target)
    if owners[target] == nil then
      local agent = redis.pcall('HMGET', agentPrefix .. target, 'replica', 'state')
      if agent.err then owners[target] = agent
      else owners[target] = (agent[1] and agent[2] ~= 'offline') and agent[1] or false end
    end
    local refused = (type(size) == 'table' and size) or (type(owners[target]) == 'table' and owners[target])
    if refused then
      outcome, owner = 'error', refused.err
    elseif size >= mailboxCap then
      outcome = 'mailbox_full'
      deadLetter(KEYS[3], dlqCap, KEYS[2], eventsCap, original(b), 'mailbox_full',
        'mailbox of ' .. target .. ' holds ' .. ARGV[5] .. ' commands', 0, entryId, consumer, now, dlqPayloadCap)
    else
      -- Times and counts go to redis.call as text where they are only written (includes/now.lua).
      local expireAt = tostring(now + ttl)
      redis.call('HSET', key, 'command_id', id, 'target', target, 'command_type', ctype, 'payload', payload,
        'priority', priority, 'correlation_id', correlation, 'max_attempts', maxAttempts, 'ttl_ms', ARGV[b + 9],
        'expire_at', expireAt, 'attempt', '1', 'deliveries', '0', 'handled_by', consumer, 'source_id', entryId,
        'queued_at', nowText, 'state', 'queued', 'timeline', step('queued', nowText, consumer))
      redis.call('PEXPIRE', key, ttl + retention)
      -- Priority first (10 = highest sorts first), then arrival.
      seq = seq + 1
      redis.call('ZADD', mailboxPrefix .. target, (10 - tonumber(priority)) * 100000000000000 + seq % 100000000000000, id)
      deadlines[#deadlines + 1] = expireAt
      deadlines[#deadlines + 1] = id
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_queued', 'command_id', id,
        'agent_id', target, 'replica', consumer, 'source_id', entryId, 'ts', nowText)
      queued = queued + 1
      if owners[target] then
        owner = owners[target]
        local wake = wakes[owner]
        if not wake then wake = {}; wakes[owner] = wake end
        wake[#wake + 1] = target
      end
    end
  end
  if outcome ~= 'not_owner' and outcome ~= 'error' then acks[#acks + 1] = entryId end
  out[#out + 1] = outcome
  out[#out + 1] = owner
end

if #acks > 0 then redis.call('XACK', KEYS[1], group, unpack(acks)) end
if #deadlines > 0 then redis.call('ZADD', KEYS[5], unpack(deadlines)) end
if queued > 0 then redis.call('HINCRBY', KEYS[6], 'queued', queued) end
for owner, targets in pairs(wakes) do
  local wake = replicaPrefix .. owner .. ':wake'
  redis.call('SADD', wake, unpack(targets))
  redis.call('PEXPIRE', wake, '3600000')
end
return out
