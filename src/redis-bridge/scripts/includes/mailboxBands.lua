-- A mailbox (zset) has two bands. Ready: score = (10 - priority) * 1e14 + arrival, below
-- IN_FLIGHT. In flight: the same score plus IN_FLIGHT, for commands sent to a session, so a
-- delivery run reads only the ready band and never walks past what is already out. Scores
-- stay below 2^53 (exact in a double). Moves use ZINCRBY: reading scores back (WITHSCORES)
-- costs Redis about 0.5 us per member to format.
local IN_FLIGHT = 1000000000000000
-- Arrivals per priority level: a ready score is (10 - priority) * PRIORITY_STEP + arrival.
local PRIORITY_STEP = 100000000000000

-- The ready-band score of a command of `priority` (text, 1..10) that arrived `seq`-th.
local function readyScore(priority, seq)
  return (10 - tonumber(priority)) * PRIORITY_STEP + seq % PRIORITY_STEP
end

-- Moves a command from the in-flight band back to the ready band (no-op if it is not there).
local function backToReady(mailbox, id)
  local score = tonumber(redis.call('ZSCORE', mailbox, id))
  if score and score >= IN_FLIGHT then redis.call('ZINCRBY', mailbox, -IN_FLIGHT, id) end
end
