--[[
  Holds the state transitions of one replica's agents (or of every agent, field `*`) for a
  while: the staleness sweep does not move them until the hold ends (docs/dampening.md).
  An active hold that lasts at least as long is left as it is; otherwise the hold takes the
  new until and reason. Emits `dampening_started` unless nothing changed or the same hold
  was only extended.

  Input:
    KEYS[1] agent holds (hash: replica id or `*` -> `<until ms>|<reason>`)
    KEYS[2] events stream

    ARGV[1] field (replica id, or `*`)
    ARGV[2] hold for (ms from now, Redis clock)
    ARGV[3] reason (`mass_silence`, `redis_back`, ...)
    ARGV[4] events stream cap (approximate MAXLEN)
    ARGV[5] replica id setting the hold
    ARGV[6..] more event fields as field, value pairs

  Output:
    { now (ms, Redis clock), 1 when `dampening_started` was emitted else 0 }
]]
--- @include "includes/now.lua"
--- @include "includes/agentHolds.lua"

local now = nowMs()
local extra = {}
for i = 6, #ARGV do extra[#extra + 1] = ARGV[i] end
local started = setHold(KEYS[1], KEYS[2], ARGV[4], ARGV[1], now, now + tonumber(ARGV[2]), ARGV[3], ARGV[5], extra)
return { now, started and 1 or 0 }
