-- queue_refresh.lua: the queued waiters' heartbeat, sent on a timer of its
-- own rather than riding on their tries, so that a waiter whose tries or
-- subscription are slow keeps its place; one call refreshes every waiter
-- of one queue on one client. The Go side prepends queue.lua.
--
-- KEYS[1] queue, KEYS[2] deadlines (see queue.lua; one hash slot)
-- ARGV[1] entry lifetime in ms (3 heartbeats), ARGV[2..] owner tokens
--
-- Replies: for each token, in order, its entry's rank among the live
-- entries (0: the head), or -1 when it has none (a missing or dead entry
-- is left alone: a pruned entry is never re-created out of order);
-- {'foreign', key, what}; {'invalid', what}.
--
-- Dead entries are pruned first, so that the ranks count live waiters
-- only: a waiter that idles until its rank is near the front (see
-- heartbeat.go) must not be held back by the dead.
local queue, deadlines = KEYS[1], KEYS[2]
local lifetime_ms = tonumber(ARGV[1])
if not lifetime_ms or lifetime_ms < 1 or lifetime_ms ~= math.floor(lifetime_ms) then
  return {'invalid', 'queue entry lifetime ' .. tostring(ARGV[1]) .. ' is not a whole number of milliseconds'}
end
local bad = Q.check(queue, deadlines)
if bad then return bad end
local now = Q.now_us()
Q.prune(queue, deadlines, now)
local ranks = {}
for i = 2, #ARGV do
  local rank = -1
  if Q.refresh(queue, deadlines, ARGV[i], now, lifetime_ms * 1000) then
    rank = redis.call('ZRANK', queue, ARGV[i])
  end
  ranks[i - 1] = rank
end
return ranks
