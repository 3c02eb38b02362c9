--[[
  Ends a hold before its until because its cause cleared, and emits `dampening_ended` with
  reason `cleared`. Only a hold set for the same reason is ended: a failover grace that
  replaced it runs its course.

  Input:
    KEYS[1] agent holds (hash: replica id or `*` -> `<until ms>|<reason>`)
    KEYS[2] events stream

    ARGV[1] field (replica id, or `*`)
    ARGV[2] reason the hold was set for
    ARGV[3] events stream cap (approximate MAXLEN)
    ARGV[4] replica id ending the hold
    ARGV[5..] more event fields as field, value pairs

  Output:
    1 when the hold was ended, 0 when there was none for that reason
]]
--- @include "includes/now.lua"
--- @include "includes/agentHolds.lua"

local untilMs, reason = parseHold(redis.call('HGET', KEYS[1], ARGV[1]))
if not untilMs or reason ~= ARGV[2] then return 0 end
local now = nowMs()
redis.call('HDEL', KEYS[1], ARGV[1])
local args = { KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'type', 'dampening_ended', 'replica', ARGV[1],
  'reason', 'cleared', 'held_for', reason, 'by', ARGV[4] }
for i = 5, #ARGV do args[#args + 1] = ARGV[i] end
args[#args + 1] = 'ts'
args[#args + 1] = now
redis.call('XADD', unpack(args))
return 1
