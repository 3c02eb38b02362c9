-- Reply codes, named once; generated from src/redis-bridge/reply-codes.ts (a unit test keeps them equal).
local REPLY = {
  FENCED = -1,
  NO_RECORD = -2,
  OVER_SESSION_LIMIT = -3,
  NOT_PENDING = -4,
  IGNORED = 0,
  FINISHED = 1,
  RETRYING = 2,
  DONE = 1,
  NOT_DONE = 0,
}
