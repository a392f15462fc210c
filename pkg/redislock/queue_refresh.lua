-- queue_refresh.lua: the queued waiters' heartbeat, sent on a timer of its
-- own rather than riding on their tries, so that a waiter whose tries or
-- subscription are slow keeps its place; one call refreshes every waiter
-- of one queue on one client. The Go side prepends queue.lua.
--
-- KEYS[1] queue, KEYS[2] deadlines (see queue.lua; one hash slot)
-- ARGV[1] entry lifetime in ms (3 heartbeats), ARGV[2..] owner tokens
--
-- Replies: the number of entries refreshed (a missing or dead entry is
-- left alone: a pruned entry is never re-created out of order);
-- {'foreign', key, what}; {'invalid', what}.
local queue, deadlines = KEYS[1], KEYS[2]
local lifetime_ms = tonumber(ARGV[1])
if not lifetime_ms or lifetime_ms < 1 or lifetime_ms ~= math.floor(lifetime_ms) then
  return {'invalid', 'queue entry lifetime ' .. tostring(ARGV[1]) .. ' is not a whole number of milliseconds'}
end
local bad = Q.check(queue, deadlines)
if bad then return bad end
local now = Q.now_us()
local n = 0
for i = 2, #ARGV do
  if Q.refresh(queue, deadlines, ARGV[i], now, lifetime_ms * 1000) then n = n + 1 end
end
return n
