--[[
  Routes a batch of valid ingress entries in one step. For each entry: records the command
  (deduplicated by command id) with its first timeline step, appends it to the target's
  mailbox, sets its TTL deadline and emits `command_queued`; then all routed entries are
  XACKed at once and each woken agent is marked in its owner's wake set. Fenced: only entries
  still pending for this consumer are touched. Delivered too often -> dead-lettered `poison`.
  Records, mailboxes, agent records and wake sets are built from the ARGV prefixes (same
  hash tag as KEYS on Redis Cluster).

  Input:
    KEYS[1] ingress stream     KEYS[4] command sequence counter
    KEYS[2] events stream      KEYS[5] command deadlines (zset)
    KEYS[3] dead-letter stream KEYS[6] command counts by state (hash)

    ARGV[1] group                 ARGV[7]  dlq cap
    ARGV[2] consumer              ARGV[8]  dlq payload cap (bytes)
    ARGV[3] poison threshold      ARGV[9]  command record key prefix (`<prefix>:command:`)
    ARGV[4] record retention after the TTL (ms)   ARGV[10] mailbox key prefix
    ARGV[5] mailbox cap           ARGV[11] agent record key prefix
    ARGV[6] events cap            ARGV[12] replica key prefix (`<prefix>:replica:`)
    ARGV[13..] per entry, 9 values: entry id, command id, target, command type, payload,
               priority (1..10), correlation id, max attempts, ttl (ms)

  Output:
    { outcomes, owners }: outcomes[i] for entry i is 'queued' | 'duplicate' (seen before:
    acknowledged, nothing else) | 'poison' | 'mailbox_full' (both dead-lettered) |
    'not_owner' (no longer pending for this consumer: nothing done); owners lists each
    replica whose wake set got an agent.
]]
--- @include "includes/now.lua"
--- @include "includes/pendingFor.lua"
--- @include "includes/deadLetter.lua"
--- @include "includes/counts.lua"
--- @include "includes/chunked.lua"

local STRIDE, FIRST = 9, 13
local n = (#ARGV - FIRST + 1) / STRIDE
local group, consumer = ARGV[1], ARGV[2]
local eventsCap, mailboxCap = ARGV[6], tonumber(ARGV[5])

-- Deliveries of each entry still pending for us: one range read, then single look-ups only
-- when that read was cut short.
local function idLess(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if am ~= bm then return #am < #bm or (#am == #bm and am < bm) end
  return #as < #bs or (#as == #bs and as < bs)
end
local first, last = ARGV[FIRST], ARGV[FIRST]
for i = 1, n - 1 do
  local id = ARGV[FIRST + i * STRIDE]
  if idLess(id, first) then first = id end
  if idLess(last, id) then last = id end
end
local limit = n + 100
local pending = {}
local range = redis.call('XPENDING', KEYS[1], group, first, last, limit, consumer)
for _, p in ipairs(range) do pending[p[1]] = tonumber(p[4]) end
local function deliveriesOf(id)
  if pending[id] or #range < limit then return pending[id] end
  return pendingFor(KEYS[1], group, id, consumer)
end

local now = nowMs()
local step = cjson.encode({ event = 'queued', at = now, replica = consumer })
local seq = redis.call('INCRBY', KEYS[4], n) - n
local outcomes, acks, deadlines, mailboxSizes, owners, wakes = {}, {}, {}, {}, {}, {}

for i = 0, n - 1 do
  local a = FIRST + i * STRIDE
  local entryId, id, target, ttl = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 8])
  local deliveries = deliveriesOf(entryId)
  local mailbox = ARGV[10] .. target
  local function original()
    return { 'type', 'command_issued', 'target', target, 'command_id', id, 'command_type', ARGV[a + 3],
      'payload', ARGV[a + 4], 'priority', ARGV[a + 5], 'correlation_id', ARGV[a + 6], 'max_attempts', ARGV[a + 7], 'ttl_ms', ARGV[a + 8] }
  end
  local outcome
  if not deliveries then
    outcome = 'not_owner'
  elseif deliveries > tonumber(ARGV[3]) then
    deadLetter(KEYS[3], ARGV[7], KEYS[2], eventsCap, original(), 'poison',
      'delivered ' .. deliveries .. ' times without being routed', deliveries, entryId, consumer, now, tonumber(ARGV[8]))
    outcome = 'poison'
  elseif redis.call('EXISTS', ARGV[9] .. id) == 1 then
    outcome = 'duplicate'
  else
    mailboxSizes[target] = mailboxSizes[target] or redis.call('ZCARD', mailbox)
    if mailboxSizes[target] >= mailboxCap then
      deadLetter(KEYS[3], ARGV[7], KEYS[2], eventsCap, original(), 'mailbox_full',
        'mailbox of ' .. target .. ' holds ' .. mailboxCap .. ' commands', 0, entryId, consumer, now, tonumber(ARGV[8]))
      outcome = 'mailbox_full'
    else
      local key, priority, expireAt = ARGV[9] .. id, tonumber(ARGV[a + 5]), now + ttl
      redis.call('HSET', key, 'command_id', id, 'target', target, 'command_type', ARGV[a + 3], 'payload', ARGV[a + 4],
        'priority', priority, 'correlation_id', ARGV[a + 6], 'max_attempts', ARGV[a + 7], 'ttl_ms', ttl,
        'expire_at', expireAt, 'attempt', 1, 'deliveries', 0, 'handled_by', consumer, 'source_id', entryId,
        'queued_at', now, 'state', 'queued', 'steps', 1, 'step:1', step)
      redis.call('PEXPIRE', key, ttl + tonumber(ARGV[4]))
      -- Priority first (10 = highest sorts first), then arrival.
      seq = seq + 1
      redis.call('ZADD', mailbox, (10 - priority) * 100000000000000 + seq % 100000000000000, id)
      mailboxSizes[target] = mailboxSizes[target] + 1
      deadlines[#deadlines + 1] = expireAt
      deadlines[#deadlines + 1] = id
      countMove(nil, 'queued')
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', eventsCap, '*', 'type', 'command_queued', 'command_id', id,
        'agent_id', target, 'replica', consumer, 'source_id', entryId, 'ts', now)
      outcome = 'queued'
      if owners[target] == nil then
        local agent = redis.call('HMGET', ARGV[11] .. target, 'replica', 'state')
        owners[target] = (agent[1] and agent[2] ~= 'offline') and agent[1] or false
        if owners[target] then
          wakes[owners[target]] = wakes[owners[target]] or {}
          table.insert(wakes[owners[target]], target)
        end
      end
    end
  end
  outcomes[#outcomes + 1] = outcome
  if outcome ~= 'not_owner' then acks[#acks + 1] = entryId end
end

chunked('ZADD', KEYS[5], {}, deadlines)
chunked('XACK', KEYS[1], { group }, acks)
flushCounts(KEYS[6])
local woken = {}
for owner, agents in pairs(wakes) do
  local wake = ARGV[12] .. owner .. ':wake'
  chunked('SADD', wake, {}, agents)
  redis.call('PEXPIRE', wake, 3600000)
  woken[#woken + 1] = owner
end
return { outcomes, woken }
