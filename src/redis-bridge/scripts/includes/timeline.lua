-- A command's timeline lives in its record's `timeline` field: JSON steps, one per line. The
-- scripts read it with the record's HMGET and write it with their HSET, so a step costs no
-- Redis call of its own (a list key cost an RPUSH per step and a PEXPIRE per TTL change).
-- Capped at TIMELINE_MAX_BYTES: the first step (`queued`) stays, the oldest after it go.
local TIMELINE_MAX_BYTES = 4096

-- One step as JSON. `atText` and `attemptText` (optional) are decimal digits, written as
-- JSON numbers; `replica` and `detail` (optional) are escaped by cjson.
local function step(event, atText, replica, attemptText, detail)
  local s = '{"event":"' .. event .. '","at":' .. atText .. ',"replica":' .. cjson.encode(replica)
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
