-- Appends a dead letter: the entry's fields (payload cut to `payloadCap` bytes, with its
-- original size) plus why, and a `command_dead` event (with the fields' parent_id, if any).
local function deadLetter(dlq, dlqCap, events, eventsCap, fields, reason, err, attempts, sourceId, replica, now, payloadCap)
  local entry = {}
  for i = 1, #fields, 2 do
    local k, v = fields[i], fields[i + 1]
    if k == 'payload' and #v > payloadCap then
      entry[#entry + 1] = 'payload'; entry[#entry + 1] = string.sub(v, 1, payloadCap)
      entry[#entry + 1] = 'payload_size'; entry[#entry + 1] = tostring(#v)
    elseif k ~= 'reason' and k ~= 'error' then
      entry[#entry + 1] = k; entry[#entry + 1] = v
    end
  end
  local id = redis.call('XADD', dlq, 'MAXLEN', '~', dlqCap, '*', 'reason', reason, 'error', err,
    'attempts', attempts, 'source_id', sourceId, 'dead_at', now, 'replica', replica, unpack(entry))
  local commandId, parentId = '', nil
  for i = 1, #fields, 2 do
    if fields[i] == 'command_id' then commandId = fields[i + 1]
    elseif fields[i] == 'parent_id' and fields[i + 1] ~= '' then parentId = fields[i + 1] end
  end
  if parentId then
    redis.call('XADD', events, 'MAXLEN', '~', eventsCap, '*', 'type', 'command_dead', 'command_id', commandId,
      'reason', reason, 'error', string.sub(err, 1, 200), 'replica', replica, 'parent_id', parentId, 'ts', now)
  else
    redis.call('XADD', events, 'MAXLEN', '~', eventsCap, '*', 'type', 'command_dead', 'command_id', commandId,
      'reason', reason, 'error', string.sub(err, 1, 200), 'replica', replica, 'ts', now)
  end
  return id
end
