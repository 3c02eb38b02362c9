-- The command index: sorted sets of command ids scored by creation time (ms, the record's
-- queued_at), under a prefix (`<prefix>:idx:`): `state:<state>` (together: every command),
-- and `target:<agent>`,
-- `type:<command type>`, `corr:<correlation id>`, `parent:<parent id>`. ListCommands reads a
-- page of the most selective one. What a script changes is collected and written once per
-- key at its end. The state sets are trimmed by the maintenance loop; the
-- others expire with the newest record they hold and are trimmed now and then by the route
-- script (see indexFlushNew).

-- State moves by command id: the first state left and the last one entered, so a command
-- that moves twice in one script is written once.
local indexMoves = {}

local function indexStateMoved(id, created, old, new)
  local m = indexMoves[id]
  if m then m.to = new
  else indexMoves[id] = { created = created, from = old, to = new } end
end

-- Appends to `byKey[key]` the given values (a list per key, for one variadic call each).
local function indexPush(byKey, key, a, b)
  local t = byKey[key]
  if not t then t = {}; byKey[key] = t end
  t[#t + 1] = a
  if b then t[#t + 1] = b end
end

local function indexFlushStates(prefix)
  if not prefix then return end
  local rems, adds = {}, {}
  for id, m in pairs(indexMoves) do
    if m.from ~= m.to then
      if m.from and m.from ~= '' then indexPush(rems, prefix .. 'state:' .. m.from, id) end
      if m.to and m.created then indexPush(adds, prefix .. 'state:' .. m.to, m.created, id) end
    end
  end
  for key, ids in pairs(rems) do redis.call('ZREM', key, unpack(ids)) end
  for key, members in pairs(adds) do redis.call('ZADD', key, unpack(members)) end
  indexMoves = {}
end

-- New commands, collected by the route script: key -> { score, id, ... }.
local indexNew = {}

-- Index keys built once per script call (a chunk routes many commands of few targets and types).
local indexKeyCache = {}
local function indexKey(prefix, kind, value)
  local name = kind .. value
  local key = indexKeyCache[name]
  if not key then
    key = prefix .. name
    indexKeyCache[name] = key
  end
  return key
end

local function indexNewCommand(prefix, createdText, id, state, target, commandType, correlationId, parentId)
  indexPush(indexNew, indexKey(prefix, 'state:', state), createdText, id)
  indexPush(indexNew, indexKey(prefix, 'target:', target), createdText, id)
  indexPush(indexNew, indexKey(prefix, 'type:', commandType), createdText, id)
  if correlationId ~= '' then indexPush(indexNew, prefix .. 'corr:' .. correlationId, createdText, id) end
  if parentId ~= '' then indexPush(indexNew, prefix .. 'parent:' .. parentId, createdText, id) end
end

-- Writes the new commands: one ZADD per key; the per-target/type/... sets expire `lifeMs`
-- after their newest member (no record outlives that), and with `trimBefore` (a time, ms)
-- they also lose members created before it (records that are certainly gone).
local function indexFlushNew(prefix, lifeMs, trimBefore)
  local states = prefix .. 'state:'
  for key, members in pairs(indexNew) do
    redis.call('ZADD', key, unpack(members))
    if string.sub(key, 1, #states) ~= states then
      redis.call('PEXPIRE', key, lifeMs)
      if trimBefore then redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. trimBefore) end
    end
  end
  indexNew = {}
end
