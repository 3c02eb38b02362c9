--[[
  Picks what the owner of an agent's session should send now, fenced by the session's epoch.
  The agent record keeps an exact count of commands in flight on the current session
  (`inflight`: reset when a session starts, +1 per pick, -1 when a result arrives), so this
  walks the mailbox's ready band only until the free slots are filled (includes/pickReady.lua).
  With `resend`, the commands already in flight to this session come back too (a session's
  first run, or after a run whose reply was lost): they may never have been written to it.
  Cancels requested for commands in flight here are returned once.

  Input:
    KEYS[1] agent record (hash)
    KEYS[2] agent's mailbox (zset)
    KEYS[3] events stream
    KEYS[4] command counts by state (hash)
    KEYS[5] agent's requested cancels (set)
    KEYS[6] fan-outs due (zset)

    ARGV[1] agent id
    ARGV[2] session epoch
    ARGV[3] replica id
    ARGV[4] in-flight window
    ARGV[5] most mailbox entries examined
    ARGV[6] command record key prefix (`<prefix>:command:`)
    ARGV[7] events cap
    ARGV[8] resend: 1 to include the commands in flight to this session
    ARGV[9] command index key prefix (`<prefix>:idx:`)

  Output:
    { REPLY.FENCED } a newer session owns the agent
    { REPLY.DONE, ms until a retry seen on the way is due (0 = none), n, n x [id, type, payload,
      priority, attempt, correlation id, expire at], m, m x [cancel id] }
]]
--- @include "includes/replyCodes.lua"
--- @include "includes/now.lua"
--- @include "includes/stateTally.lua"
--- @include "includes/mailboxBands.lua"
--- @include "includes/timeline.lua"
--- @include "includes/pickReady.lua"

local agent = redis.call('HMGET', KEYS[1], 'epoch', 'inflight')
if agent[1] ~= ARGV[2] then return { REPLY.FENCED } end
local now, nowText = nowMs()
local epoch, prefix, scanMax = ARGV[2], ARGV[6], tonumber(ARGV[5])

local cancels = {}
local requested = redis.call('SMEMBERS', KEYS[5])
for _, id in ipairs(requested) do
  local r = redis.call('HMGET', prefix .. id, 'state', 'delivered_epoch')
  if r[1] == 'delivered' and r[2] == epoch then cancels[#cancels + 1] = id end
end
if #requested > 0 then redis.call('DEL', KEYS[5]) end

local commands = {}
local resent = 0
if ARGV[8] == '1' then resent = inFlightFor(KEYS[2], epoch, scanMax, prefix, commands) end
local picked, nextDue = pickReady(KEYS[2], ARGV[1], epoch, tonumber(ARGV[4]) - tonumber(agent[2] or '0'), scanMax,
  prefix, KEYS[3], ARGV[7], ARGV[3], now, nowText, commands)
if picked > 0 then redis.call('HINCRBY', KEYS[1], 'inflight', picked) end
flushParents({ commandPrefix = prefix, due = KEYS[6], events = KEYS[3], eventsCap = ARGV[7], replica = ARGV[3],
  now = now, nowText = nowText })
countStates(KEYS[4], ARGV[9])

local out = { REPLY.DONE, nextDue, resent + picked }
for _, v in ipairs(commands) do out[#out + 1] = v end
out[#out + 1] = #cancels
for _, v in ipairs(cancels) do out[#out + 1] = v end
return out
