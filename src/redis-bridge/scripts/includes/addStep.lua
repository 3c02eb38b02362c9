-- Appends a timeline step to a command record: field `step:<n>` holds the step as JSON and
-- `steps` counts them. Scripts on the hot path write the step inside their own HSET instead
-- (they have read `steps` already); this is for the rare paths.
local function addStep(record, step)
  local n = redis.call('HINCRBY', record, 'steps', 1)
  redis.call('HSET', record, 'step:' .. n, cjson.encode(step))
end
