-- renew.lua: extend the lease of a window's current attempt.
--
-- KEYS as claim.lua's; ARGV[1] run_id, ARGV[2] lease ms, ARGV[3] grace ms
--
-- Replies:
--   {'ok', until_us, now_us}        the lease holds until until_us
--   {'stale', record or '', now_us} run_id is not the window's current
--                                   running attempt, or its lease ran out
--                                   in Redis TIME; nothing was written
--   {'foreign', key, what}          a value baton did not write; untouched
local wkey, records = KEYS[1], KEYS[3]
local run_id, lease, grace = ARGV[1], R.arg(2, 'lease'), R.arg(3, 'grace')

local bad = R.check(records, KEYS[4], KEYS[5])
if bad then return bad end
local w
w, bad = R.window(wkey)
if w == false then return bad end
local now = R.now()
if not w or w.run_id ~= run_id or w.status ~= 'running' or w.until_us <= now then
  return {'stale', w and R.record(w) or '', F.fmt(now)}
end
w.until_us, w.lease_ms = now + lease * 1000, lease
R.save(wkey, records, w, false)
R.expire(KEYS, w, now, grace)
return {'ok', F.fmt(w.until_us), F.fmt(now)}
