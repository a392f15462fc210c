-- inspect.lua: read a job's record, writing nothing.
--
-- KEYS[1] records, KEYS[2] order, KEYS[3] last (see window.lua)
-- ARGV[1] run_id: only that run's record; '' for all
--
-- Replies:
--   {'ok', now_us, success or false, failure or false, {record or false...}}
--                           the records of order, newest first
--   {'foreign', key, what}  a value baton did not write
local records, order, last = KEYS[1], KEYS[2], KEYS[3]
local bad = R.check(records, order, last)
if bad then return bad end
local now = F.fmt(R.now())
if ARGV[1] ~= '' then
  return {'ok', now, false, false, {redis.call('HGET', records, ARGV[1])}}
end
local ids = redis.call('LRANGE', order, 0, -1)
local recs = {}
if #ids > 0 then recs = redis.call('HMGET', records, unpack(ids)) end
local l = redis.call('HMGET', last, 'success', 'failure')
return {'ok', now, l[1], l[2], recs}
