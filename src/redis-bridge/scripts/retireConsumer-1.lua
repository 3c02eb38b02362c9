--[[
  Deletes a consumer of the ingress group if, at this instant, it holds no pending entry.
  One step, because the check and the delete must not be split: a stopping replica's
  abandoned XREADGROUP stays blocked in Redis until Redis notices the closed socket, and an
  XADD in between hands it an entry. XGROUP DELCONSUMER drops a consumer's pending entries
  from the group, so an entry arriving between a separate check and the delete would be
  read by nobody and pending on nobody. An entry served after the delete re-creates the
  consumer with it pending, where the reclaim sweep finds it.

  Input:
    KEYS[1] ingress stream
    ARGV[1] group
    ARGV[2] consumer

  Output: REPLY.DONE deleted (or there was no such consumer), REPLY.NOT_DONE kept: it holds entries
]]
--- @include "includes/replyCodes.lua"

if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return REPLY.NOT_DONE end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return REPLY.DONE
