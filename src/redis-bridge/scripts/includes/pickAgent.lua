-- `pick any`: one agent among those a selector matches. Candidates are online agents (not
-- stale, not offline) with a free slot in their session's window; the least loaded wins:
-- fewest commands in flight (exact and current), then the lowest CPU of its last heartbeat,
-- then the smaller id. Past PICK_SAMPLE matching agents, a random sample of that many is
-- looked at, so a pick costs the same on a fleet of 50 and of 50,000. Candidates are read once
-- per selector and script call and kept current here as commands are placed.
--- @include "includes/selectorMatch.lua"

local PICK_SAMPLE = 64
local pickCandidates = {}

-- P: tmp (a scratch key in the slot of the others), labelPrefix, allAgents, online, agentPrefix.
local function pickAgent(P, planText)
  local list = pickCandidates[planText]
  if not list then
    list = {}
    local ids = {}
    if selectorStore(P.tmp, P.labelPrefix, P.allAgents, cjson.decode(planText)) > 0 then
      redis.call('ZINTERSTORE', P.tmp, 2, P.tmp, P.online, 'WEIGHTS', 0, 0)
      ids = redis.call('ZRANDMEMBER', P.tmp, PICK_SAMPLE)
    end
    redis.call('DEL', P.tmp)
    for _, id in ipairs(ids) do
      local r = redis.call('HMGET', P.agentPrefix .. id, 'state', 'window', 'inflight', 'metrics')
      local window = tonumber(r[2])
      if r[1] == 'online' and window then
        local cpu = tonumber(string.match(r[4] or '', '"cpuPercent":%s*([%d%.eE+-]+)')) or 100
        list[#list + 1] = { id = id, window = window, inflight = tonumber(r[3]) or 0, cpu = cpu }
      end
    end
    pickCandidates[planText] = list
  end
  local best
  for _, c in ipairs(list) do
    if c.inflight < c.window and (not best or c.inflight < best.inflight
        or (c.inflight == best.inflight and (c.cpu < best.cpu or (c.cpu == best.cpu and c.id < best.id)))) then
      best = c
    end
  end
  if not best then return nil end
  best.inflight = best.inflight + 1
  return best.id
end
