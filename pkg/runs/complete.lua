-- complete.lua: record the end of a window's current attempt.
--
-- KEYS as claim.lua's; ARGV[1] run_id, ARGV[2] status: succeeded, failed,
-- or lost (an attempt given up by its claimer, which never ran it),
-- ARGV[3] grace ms, ARGV[4] the job's channel
--
-- Replies:
--   {'ok', record, now_us}          recorded (or recorded before: a
--                                   repeat after a lost reply)
--   {'stale', record or '', now_us} run_id is not the window's current
--                                   running attempt, or its lease ran out
--                                   in Redis TIME; nothing was written
--   {'foreign', key, what}          a value baton did not write; untouched
local wkey, records, last = KEYS[1], KEYS[3], KEYS[5]
local run_id, status, grace, channel = ARGV[1], ARGV[2], R.arg(3, 'grace'), ARGV[4]
if status ~= 'succeeded' and status ~= 'failed' and status ~= 'lost' then
  return redis.error_reply('ERR runs: status ' .. tostring(status) .. ' is not an end')
end

local bad = R.check(records, KEYS[4], last)
if bad then return bad end
local w
w, bad = R.window(wkey)
if w == false then return bad end
local now = R.now()
if w and w.run_id == run_id and w.status == status then
  return {'ok', R.record(w), F.fmt(now)}
end
if not w or w.run_id ~= run_id or w.status ~= 'running' or w.until_us <= now then
  return {'stale', w and R.record(w) or '', F.fmt(now)}
end
-- The end ends the lease: the keys need not outlive it.
w.status, w.end_us, w.until_us = status, now, now
R.save(wkey, records, w, false)
if status == 'succeeded' then
  redis.call('HSET', last, 'success', R.record(w))
else
  redis.call('HSET', last, 'failure', R.record(w))
end
R.expire(KEYS, w, now, grace)
redis.pcall('PUBLISH', channel, status .. ' ' .. w.window) -- best effort, as claim.lua's
return {'ok', R.record(w), F.fmt(now)}
