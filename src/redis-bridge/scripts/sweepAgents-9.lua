--[[
  Moves agents that stopped pulsing along online -> stale -> offline, and forgets agents
  offline for longer than the retention (a forgotten agent leaves the label index too). Every
  replica runs it; the state sets make each transition (and its event) happen once. Ages use
  the Redis clock.

  Dampening (docs/dampening.md): an agent is not moved (it is counted as held) while
  - its record's `replica` has an active hold, or
  - that replica is in the live set but missed 2 beats (its agents are silent because it is);
  a cluster hold (`*`) holds every transition; forgetting goes on. Expired holds are removed
  here (`dampening_ended`, reason `bound`). With a failover grace, a gap in the sweeps (the
  last run longer ago than ARGV[10], or no record of one while agents are listed online or
  stale: Redis came back from disk, or every replica was down) sets a cluster hold for the
  grace first (`dampening_started`, reason `sweep_gap`).

  Candidates stay bounded: each transition examines at most ARGV[12] agents and moves at most
  ARGV[5]. Held agents keep their place at the head of the range, so the next chunk starts
  after them.
  Agent record and label set keys are built from ARGV[1] and ARGV[8]; with a `{hash tag}`
  prefix they share the slot of KEYS, so the script stays valid on Redis Cluster.

  Input:
    KEYS[1] agents online (zset, scored by last pulse)
    KEYS[2] agents stale (zset, scored by last pulse)
    KEYS[3] agents offline (zset, scored by time offline)
    KEYS[4] agent index (zset, lex)
    KEYS[5] events stream
    KEYS[6] agents' indexed terms (hash: agent id -> terms joined by "\n")
    KEYS[7] agent holds (hash: replica id or `*` -> `<until ms>|<reason>`)
    KEYS[8] live replicas (zset, scored by last beat)
    KEYS[9] last sweep (string: Redis-clock ms of the last run)

    ARGV[1] agent record key prefix
    ARGV[2] stale after (ms without a pulse)
    ARGV[3] offline after (ms without a pulse)
    ARGV[4] forget after (ms offline)
    ARGV[5] most agents moved per transition per call
    ARGV[6] events stream cap (approximate MAXLEN)
    ARGV[7] replica id running the sweep
    ARGV[8] label index key prefix (`<prefix><term>` is the set of agent ids with that term)
    ARGV[9] replica beat interval (ms): a live replica silent for 2 beats holds its agents
    ARGV[10] sweep gap (ms): a previous run longer ago than this is a gap
    ARGV[11] failover grace (ms; 0 = no cluster hold after a gap)
    ARGV[12] most agents examined per transition per call

  Output:
    { became stale, became offline, forgotten, held, gap ('' or `sweep_gap`), active holds,
      fields of the holds that ended... }
]]
--- @include "includes/now.lua"
--- @include "includes/agentHolds.lua"

local now = nowMs()
local limit = tonumber(ARGV[5])
local scanMax = tonumber(ARGV[12])
local grace = tonumber(ARGV[11])

-- A gap in the sweeps: pulses look old only because nobody could write them.
local gap = ''
local last = redis.call('GET', KEYS[9])
if grace > 0 then
  if last then
    if now - tonumber(last) > tonumber(ARGV[10]) then gap = 'sweep_gap' end
  elseif redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) > 0 then
    gap = 'sweep_gap'
  end
end
redis.call('SET', KEYS[9], now, 'PX', ARGV[4])
if gap ~= '' then
  setHold(KEYS[7], KEYS[5], ARGV[6], '*', now, now + grace, gap, ARGV[7], { 'gap_ms', last and (now - tonumber(last)) or '' })
end

-- Active holds; expired ones end here (bounded: one field per replica, plus `*`).
local holds = {}
local active = 0
local ended = {}
local raw = redis.call('HGETALL', KEYS[7])
for i = 1, #raw, 2 do
  local field = raw[i]
  local untilMs, reason = parseHold(raw[i + 1])
  if untilMs and untilMs > now then
    holds[field] = true
    active = active + 1
  else
    redis.call('HDEL', KEYS[7], field)
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'type', 'dampening_ended', 'replica', field,
      'reason', 'bound', 'held_for', reason or '', 'by', ARGV[7], 'ts', now)
    ended[#ended + 1] = field
  end
end

local function event(kind, id, record, extra)
  local replica = redis.call('HGET', record, 'replica') or ''
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'type', kind, 'agent_id', id,
    'replica', replica, 'reason', extra, 'swept_by', ARGV[7], 'ts', now)
end

-- Whether a replica's agents are held (cached per replica for this call).
local silentAfter = 2 * tonumber(ARGV[9])
local heldReplica = {}
local function isHeld(record)
  local replica = redis.call('HGET', record, 'replica')
  if not replica or replica == '' then return false end
  local held = heldReplica[replica]
  if held == nil then
    held = holds[replica] == true
    if not held then
      local beat = redis.call('ZSCORE', KEYS[8], replica)
      held = beat ~= false and beat ~= nil and now - tonumber(beat) > silentAfter
    end
    heldReplica[replica] = held
  end
  return held
end

-- Moves due agents of `from` with `move(id, score, record)`, skipping held ones.
local function transition(from, cutoff, move)
  local moved, held, examined = 0, 0, 0
  while moved < limit and examined < scanMax do
    local due = redis.call('ZRANGEBYSCORE', from, '-inf', cutoff, 'WITHSCORES', 'LIMIT', held, math.min(limit - moved, scanMax - examined))
    if #due == 0 then break end
    for i = 1, #due, 2 do
      local id = due[i]
      local record = ARGV[1] .. id
      examined = examined + 1
      if isHeld(record) then
        held = held + 1
      else
        move(id, due[i + 1], record)
        moved = moved + 1
      end
    end
  end
  return moved, held
end

local staleCutoff = now - tonumber(ARGV[2])
local offlineCutoff = now - tonumber(ARGV[3])
local stale, offline, held = 0, 0, 0
if holds['*'] then
  held = redis.call('ZCOUNT', KEYS[1], '-inf', staleCutoff) + redis.call('ZCOUNT', KEYS[2], '-inf', offlineCutoff)
else
  local heldOnline, heldStale
  stale, heldOnline = transition(KEYS[1], staleCutoff, function(id, lastPulse, record)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], lastPulse, id)
    if redis.call('EXISTS', record) == 1 then redis.call('HSET', record, 'state', 'stale') end
    event('agent_stale', id, record, 'no pulse')
  end)
  offline, heldStale = transition(KEYS[2], offlineCutoff, function(id, _, record)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZADD', KEYS[3], now, id)
    if redis.call('EXISTS', record) == 1 then
      redis.call('HSET', record, 'state', 'offline', 'disconnected_at', now, 'disconnect_reason', 'silent')
    end
    event('agent_disconnected', id, record, 'silent')
  end)
  held = heldOnline + heldStale
end

local forgotten = 0
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, limit)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
  redis.call('DEL', ARGV[1] .. id)
  -- Bounded: hello validation allows 64 labels and 64 capabilities.
  for term in string.gmatch(redis.call('HGET', KEYS[6], id) or '', '[^\n]+') do
    redis.call('SREM', ARGV[8] .. term, id)
  end
  redis.call('HDEL', KEYS[6], id)
  forgotten = forgotten + 1
end

local reply = { stale, offline, forgotten, held, gap, active }
for _, field in ipairs(ended) do reply[#reply + 1] = field end
return reply
