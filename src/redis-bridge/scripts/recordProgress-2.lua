--[[
  Records what a running command reported (progress and/or log lines), if it is delivered to
  this agent at this attempt; a late report (the command finished or moved on) or a foreign
  one changes nothing.

  Input:
    KEYS[1] command record (hash)
    KEYS[2] the command's progress and log stream (keys.commandLog)

    ARGV[1] agent id
    ARGV[2] attempt
    ARGV[3] cap of the stream in entries (COMMAND_LOG_MAX_LINES)
    ARGV[4] 1 when a progress report follows, else 0
    ARGV[5] percent (0..100, text)
    ARGV[6] progress message
    ARGV[7] lines the agent dropped (0: none)
    ARGV[8..] log lines, oldest first (already cut to a bounded size by the caller)

  Output:
    REPLY.DONE recorded, REPLY.NOT_DONE not delivered to this agent at this attempt (ignored)

  Stream entries: `kind` (`progress` | `log`), `attempt`, `at` (ms, Redis clock), then
  `percent` and `message`, or `line`. The stream is trimmed to exactly ARGV[3] entries and
  expires with the record (its PTTL, set on every write).
]]
--- @include "includes/replyCodes.lua"
--- @include "includes/now.lua"

local r = redis.call('HMGET', KEYS[1], 'state', 'target', 'attempt')
if r[1] ~= 'delivered' or r[2] ~= ARGV[1] or r[3] ~= ARGV[2] then return REPLY.NOT_DONE end
local _, nowText = nowMs()
local attempt = ARGV[2]
local stream = KEYS[2]
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'progress_percent', ARGV[5], 'progress_message', ARGV[6],
    'progress_at', nowText, 'progress_attempt', attempt)
  redis.call('XADD', stream, '*', 'kind', 'progress', 'attempt', attempt, 'at', nowText,
    'percent', ARGV[5], 'message', ARGV[6])
end
if ARGV[7] ~= '0' then
  redis.call('XADD', stream, '*', 'kind', 'log', 'attempt', attempt, 'at', nowText,
    'line', '[nexus] ' .. ARGV[7] .. ' lines dropped by the agent (its buffer was full)')
end
for i = 8, #ARGV do
  redis.call('XADD', stream, '*', 'kind', 'log', 'attempt', attempt, 'at', nowText, 'line', ARGV[i])
end
-- One exact trim per call, not one per line: the cap holds after every call.
redis.call('XTRIM', stream, 'MAXLEN', ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', stream, ttl) end
return REPLY.DONE
