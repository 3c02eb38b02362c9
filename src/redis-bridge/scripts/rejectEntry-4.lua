--[[
  Dead-letters an ingress entry that cannot be routed (invalid, or a cancel for an unknown
  command) and XACKs it, fenced like routing.

  Input:
    KEYS[1] ingress stream
    KEYS[2] dead-letter stream
    KEYS[3] events stream
    KEYS[4] command counts by state (hash)

    ARGV[1] group        ARGV[5] error (names the field)
    ARGV[2] consumer     ARGV[6] events cap
    ARGV[3] entry id     ARGV[7] dlq cap
    ARGV[4] reason       ARGV[8] dlq payload cap (bytes)
    ARGV[9..] the entry's original fields

  Output:
    REPLY.DONE dead-lettered, REPLY.NOT_PENDING the entry is no longer pending for this consumer (nothing done)
]]
--- @include "includes/replyCodes.lua"
--- @include "includes/now.lua"
--- @include "includes/pendingFor.lua"
--- @include "includes/deadLetter.lua"

local deliveries = pendingFor(KEYS[1], ARGV[1], ARGV[3], ARGV[2])
if not deliveries then return REPLY.NOT_PENDING end
local original = {}
for i = 9, #ARGV do original[#original + 1] = ARGV[i] end
deadLetter(KEYS[2], ARGV[7], KEYS[3], ARGV[6], original, ARGV[4], ARGV[5], 0, ARGV[3], ARGV[2], nowMs(), tonumber(ARGV[8]))
redis.call('HINCRBY', KEYS[4], 'dead', 1)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return REPLY.DONE
