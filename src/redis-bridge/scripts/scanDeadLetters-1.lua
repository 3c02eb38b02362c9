--[[
  Reads a bounded stretch of the dead-letter stream and filters it here, so only what matches
  crosses the wire (a dead letter can hold DLQ_PAYLOAD_BYTES of payload). Read only.

  Newest first (XREVRANGE) from just before `start`, examining at most `examine` entries;
  `count` mode walks oldest first (XRANGE) from just after `start` and tallies reasons.

  Input:
    KEYS[1] dead-letter stream

    ARGV[1] mode: 'entries' (id and fields of each match), 'ids' (ids only), 'count'
            (reasons of every entry examined; the filter is ignored)
    ARGV[2] start: an entry id to continue after (exclusive), or '' for the newest (the
            oldest in `count` mode)
    ARGV[3] examine: entries to look at, at most
    ARGV[4] want: matches to return, at most (the rest are only counted)
    ARGV[5] target ('' = any)      ARGV[6] command type ('' = any)
    ARGV[7..] reasons (none = any)

  Output: { last examined id or '', 1 if the stream has nothing past it else 0, matches
  counted, then per returned match: 'entries' -> id, { field, value, ... }; 'ids' -> id;
  'count' -> reason, n (one pair per reason) }
]]

local mode, start = ARGV[1], ARGV[2]
local examine, want = tonumber(ARGV[3]), tonumber(ARGV[4])
local target, ctype = ARGV[5], ARGV[6]
local reasons, anyReason = {}, true
for i = 7, #ARGV do reasons[ARGV[i]] = true; anyReason = false end

local entries
if mode == 'count' then
  entries = redis.call('XRANGE', KEYS[1], start == '' and '-' or ('(' .. start), '+', 'COUNT', examine)
else
  entries = redis.call('XREVRANGE', KEYS[1], start == '' and '+' or ('(' .. start), '-', 'COUNT', examine)
end

local out, matched, tally = {}, 0, {}
for _, e in ipairs(entries) do
  local f = e[2]
  local reason, t, c = '', '', ''
  for i = 1, #f, 2 do
    local k = f[i]
    if k == 'reason' then reason = f[i + 1]
    elseif k == 'target' then t = f[i + 1]
    elseif k == 'command_type' then c = f[i + 1] end
  end
  if mode == 'count' then
    tally[reason] = (tally[reason] or 0) + 1
  elseif (anyReason or reasons[reason]) and (target == '' or t == target) and (ctype == '' or c == ctype) then
    matched = matched + 1
    if matched <= want then
      out[#out + 1] = e[1]
      if mode == 'entries' then out[#out + 1] = f end
    end
  end
end
if mode == 'count' then
  for reason, n in pairs(tally) do out[#out + 1] = reason; out[#out + 1] = n end
  matched = #entries
end

local last = #entries > 0 and entries[#entries][1] or start
local done = #entries < examine and 1 or 0
local head = { last, done, matched }
for _, v in ipairs(out) do head[#head + 1] = v end
return head
