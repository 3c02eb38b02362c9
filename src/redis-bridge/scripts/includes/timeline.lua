-- A command's timeline lives in its record's `timeline` field: JSON steps, one per line. The
-- scripts read it with the record's HMGET and write it with their HSET, so a step costs no
-- Redis call of its own (a list key cost an RPUSH per step and a PEXPIRE per TTL change).
-- Capped at TIMELINE_MAX_BYTES: the first step (`queued`) stays, the oldest after it go.
local TIMELINE_MAX_BYTES = 4096

-- Replica ids as JSON strings, escaped by cjson once per id and script call (a script writes
-- many steps for the same one or two replicas).
local quotedReplicas = {}

-- One step as JSON. `atText` and `attemptText` (optional) are decimal digits, written as
-- JSON numbers; `replica` and `detail` (optional) are escaped by cjson.
local function step(event, atText, replica, attemptText, detail)
  local quoted = quotedReplicas[replica]
  if not quoted then
    quoted = cjson.encode(replica)
    quotedReplicas[replica] = quoted
  end
  local s = '{"event":"' .. event .. '","at":' .. atText .. ',"replica":' .. quoted
  if attemptText then s = s .. ',"attempt":' .. attemptText end
  if detail and detail ~= '' then s = s .. ',"detail":' .. cjson.encode(detail) end
  return s .. '}'
end

local function withStep(timeline, line)
  if not timeline or timeline == '' then return line end
  local out = timeline .. '\n' .. line
  if #out <= TIMELINE_MAX_BYTES then return out end
  local firstEnd = string.find(out, '\n', 1, true)
  local cut = firstEnd
  while #out - cut + firstEnd > TIMELINE_MAX_BYTES do
    local nextEnd = string.find(out, '\n', cut + 1, true)
    if not nextEnd then break end
    cut = nextEnd
  end
  return string.sub(out, 1, firstEnd) .. string.sub(out, cut + 1)
end
