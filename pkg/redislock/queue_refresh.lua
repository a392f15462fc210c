-- queue_refresh.lua: a queued waiter's heartbeat, sent on a timer of its
-- own rather than riding on its tries, so that a waiter whose tries or
-- subscription are slow keeps its place. The Go side prepends queue.lua.
--
-- KEYS[1] queue, KEYS[2] deadlines (see queue.lua; one hash slot)
-- ARGV[1] owner token, ARGV[2] entry lifetime in ms (3 heartbeats)
--
-- Replies: 1 refreshed; 0 no live entry (nothing written: a pruned entry is
-- never re-created out of order); {'foreign', key, what}; {'invalid', what}.
local queue, deadlines, token = KEYS[1], KEYS[2], ARGV[1]
local lifetime_ms = tonumber(ARGV[2])
if not lifetime_ms or lifetime_ms < 1 or lifetime_ms ~= math.floor(lifetime_ms) then
  return {'invalid', 'queue entry lifetime ' .. tostring(ARGV[2]) .. ' is not a whole number of milliseconds'}
end
local bad = Q.check(queue, deadlines)
if bad then return bad end
if Q.refresh(queue, deadlines, token, Q.now_us(), lifetime_ms * 1000) then return 1 end
return 0
