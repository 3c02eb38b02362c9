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
--- @include "includes/admitCommand.lua"

local group, consumer = ARGV[1], ARGV[2]
local poisonAfter = tonumber(ARGV[3])
local commandPrefix = ARGV[9]
local n = tonumber(ARGV[18])
-- Values per entry in ARGV.
local ENTRY = 12
local now, nowText = nowMs()
ADMIT = { events = KEYS[2], eventsCap = ARGV[6], dlq = KEYS[3], dlqCap = ARGV[7], dlqPayloadCap = tonumber(ARGV[8]),
  deadlines = KEYS[5], counts = KEYS[6], commandPrefix = commandPrefix, mailboxPrefix = ARGV[10], agentPrefix = ARGV[11],
  replicaPrefix = ARGV[12], bellSuffix = ARGV[13], wakeSuffix = ARGV[14], wakeTtl = ARGV[15], indexPrefix = ARGV[16],
  mailboxCap = tonumber(ARGV[5]), retention = tonumber(ARGV[4]), consumer = consumer, now = now, nowText = nowText }
-- Arrival numbers for the whole chunk in one step (orders equal priorities in a mailbox).
local seq = redis.call('INCRBY', KEYS[4], n) - n
local seqStart = seq
-- Which entries are still pending for this consumer, and how often delivered: one range read.
local entryIds = {}
for e = 0, n - 1 do entryIds[e + 1] = ARGV[19 + e * ENTRY] end
local deliveriesOf = pendingForAll(KEYS[1], group, entryIds, consumer)

local out, acks = {}, {}
for e = 0, n - 1 do
  local b = 18 + e * ENTRY
  local c = { sourceId = ARGV[b + 1], id = ARGV[b + 2], target = ARGV[b + 3], ctype = ARGV[b + 4], payload = ARGV[b + 5],
    priority = ARGV[b + 6], correlation = ARGV[b + 7], maxAttempts = ARGV[b + 8], ttl = ARGV[b + 9],
    requestedBy = ARGV[b + 10], redriveOf = ARGV[b + 11], parentId = ARGV[b + 12] }
  local outcome, owner, epoch, expireAt = 'queued', '', '', ''
  local deliveries = deliveriesOf(c.sourceId)
  if not deliveries then
    outcome = 'not_owner'
  elseif deliveries > poisonAfter then
    outcome = 'poison'
    deadLetter(KEYS[3], ARGV[7], KEYS[2], ARGV[6], admitOriginal(c), 'poison',
      'delivered ' .. deliveries .. ' times without being routed', deliveries, c.sourceId, consumer, now, ADMIT.dlqPayloadCap)
  elseif redis.call('EXISTS', commandPrefix .. c.id) == 1 then
    outcome = 'duplicate'
  else
    seq = seq + 1
    outcome, owner, epoch, expireAt = admitCommand(c, seq)
  end
  if outcome ~= 'not_owner' and outcome ~= 'error' then acks[#acks + 1] = c.sourceId end
  out[#out + 1] = outcome
  out[#out + 1] = owner
  out[#out + 1] = epoch
  out[#out + 1] = expireAt
end

if #acks > 0 then redis.call('XACK', KEYS[1], group, unpack(acks)) end
-- Every 256 arrivals, the per-target/type sets written now also lose what is older than any record.
local indexLife = tonumber(ARGV[17])
admitFlush(indexLife, math.floor(seq / 256) ~= math.floor(seqStart / 256) and (now - indexLife) or nil)
return out
