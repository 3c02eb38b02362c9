-- Resolves a selector against the agent label index (sets `<labelPrefix><term>` of agent ids,
-- kept by connectAgent and sweepAgents). Needs nothing else. `plan` is the decoded JSON of
-- selectorPlan (src/shared/selector.ts): { all = bool, pos = { {term, ...}, ... }, neg = {term, ...} }.
-- Each pos group is a union, the groups intersect, the neg terms are taken away; `all` starts
-- from every known agent (`allAgentsKey`, the lex zset of agent ids).
--
-- selectorStore(dest, labelPrefix, allAgentsKey, plan) replaces zset `dest` with the matching
-- agent ids, every score 0 (so ZRANGE BYLEX and rank order are id order), and returns how many.
-- Z*STORE take plain sets as inputs; WEIGHTS 0 turns their score 1 into 0. Unions of more than
-- one term go through temporary keys `dest .. '#sel' .. n`, deleted before returning: `#` is
-- in no agent or command id, so they cannot be another fan-out's key, and they share dest's
-- hash tag. Cost: O(members of the sets named), at most 32 groups of 64 terms (parser limits).
local function selectorStore(dest, labelPrefix, allAgentsKey, plan)
  local inputs, temps = {}, {}
  if plan.all then inputs[1] = allAgentsKey end
  for _, group in ipairs(plan.pos) do
    if #group == 1 then
      inputs[#inputs + 1] = labelPrefix .. group[1]
    else
      local temp = dest .. '#sel' .. (#temps + 1)
      local args = { 'ZUNIONSTORE', temp, #group }
      for _, term in ipairs(group) do args[#args + 1] = labelPrefix .. term end
      redis.call(unpack(args))
      temps[#temps + 1] = temp
      inputs[#inputs + 1] = temp
    end
  end
  if #inputs == 0 then
    redis.call('DEL', dest)
    return 0
  end

  local args = { 'ZINTERSTORE', dest, #inputs }
  for _, key in ipairs(inputs) do args[#args + 1] = key end
  args[#args + 1] = 'WEIGHTS'
  for _ = 1, #inputs do args[#args + 1] = 0 end
  redis.call(unpack(args))
  if #temps > 0 then redis.call('DEL', unpack(temps)) end

  if #plan.neg > 0 then
    local diff = { 'ZDIFFSTORE', dest, #plan.neg + 1, dest }
    for _, term in ipairs(plan.neg) do diff[#diff + 1] = labelPrefix .. term end
    redis.call(unpack(diff))
  end
  return redis.call('ZCARD', dest)
end
