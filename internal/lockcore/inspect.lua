-- inspect.lua: what a lock looks like now, with no writes at all (dead
-- queue entries are counted out, not pruned). The Go side prepends
-- queue.lua.
--
-- KEYS[1] lease, KEYS[2] fence counter, KEYS[3] term record, KEYS[4] queue,
-- KEYS[5] its deadlines (see acquire.lua and queue.lua; one hash slot)
--
-- Replies:
--   {'ok', held, holder, fence, pttl, queued}  held 1 or 0; holder '' while
--                                              held is a quarantine
--   {'foreign', key, what}                     a value baton did not write
local bad = Q.check(KEYS[4], KEYS[5])
if bad then return bad end
local now = Q.now_us()
local view = Q.lease_view(KEYS[1], KEYS[2], KEYS[3], now)
if view[1] == 'foreign' then return view end
local held = 0
if view[1] == 'held' then held = 1 end
local queued = redis.call('ZCOUNT', KEYS[5], '(' .. string.format('%d', now), '+inf')
return {'ok', held, view[2], view[3], view[4], queued}
