-- Calls `command key [pre...] items...` in chunks, keeping each unpack() far below Lua's
-- C-stack limit (about 8,000 values).
local function chunked(command, key, pre, items)
  for i = 1, #items, 1000 do
    local args = {}
    for _, v in ipairs(pre) do args[#args + 1] = v end
    for j = i, math.min(#items, i + 999) do args[#args + 1] = items[j] end
    redis.call(command, key, unpack(args))
  end
end
