-- claim.lua: start the next attempt of a window, when it may run now.
--
-- KEYS[1] window hash, KEYS[2] fence, KEYS[3] records, KEYS[4] order,
-- KEYS[5] last (see window.lua)
-- ARGV[1] window, ARGV[2] run_id, ARGV[3] identity, ARGV[4] lease ms,
-- ARGV[5] max attempts, ARGV[6] keep (runs recorded), ARGV[7] grace ms,
-- ARGV[8] the window's close in Redis microseconds (0: never),
-- ARGV[9] the job's channel
--
-- Replies ({kind, record of the window's current attempt or '', now_us}
-- for a refusal, which writes nothing but the mark of a lost attempt):
--   {'ok', fence, attempt, start_us} the attempt runs with this fence (a
--                                   repeat of the claim gets it again)
--   {'succeeded', record, now_us}   the window succeeded: final
--   {'running', record, now_us}     its current attempt's lease holds
--   {'exhausted', record, now_us}   max attempts failed or were lost
--   {'closed', record, now_us}      the window's close has passed
--   {'foreign', key, what}          a value baton did not write; untouched
--
-- An attempt whose lease ran out in Redis TIME without a completion is
-- lost: it is marked so here and counts as failed. A retry never starts
-- before that.
local wkey, counter, records, order, last = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local window, run_id, identity, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[9]
local lease, max_attempts = R.arg(4, 'lease'), R.arg(5, 'max attempts')
local keep, grace, closes = R.arg(6, 'keep'), R.arg(7, 'grace'), R.arg(8, 'close')
local keys = {wkey, counter, records, order, last}

local bad = R.check(records, order, last)
if bad then return bad end
local seen
seen, bad = F.last(counter)
if not seen then return bad end
local w
w, bad = R.window(wkey)
if w == false then return bad end

local now = R.now()
if w and w.run_id == run_id and not (w.status == 'running' and w.until_us > now) then
  -- A resend of a claim whose attempt has ended: its id is spent.
  return redis.error_reply('ERR runs: run ' .. run_id .. ' of window ' .. window .. ' has ended')
end
if w then
  if w.status == 'succeeded' then return {'succeeded', R.record(w), F.fmt(now)} end
  if w.status == 'running' then
    if w.until_us > now then
      if w.run_id == run_id then -- this claim, run again by a client's retry
        return {'ok', F.fmt(w.fence), w.attempt, F.fmt(w.start_us)}
      end
      return {'running', R.record(w), F.fmt(now)}
    end
    w.status, w.end_us = 'lost', w.until_us
    R.save(wkey, records, w, false)
    redis.call('HSET', last, 'failure', R.record(w))
    R.expire(keys, w, now, grace)
  end
  if w.attempt >= max_attempts then return {'exhausted', R.record(w), F.fmt(now)} end
end
if closes > 0 and now >= closes then
  return {'closed', w and R.record(w) or '', F.fmt(now)}
end

local fence
fence, bad = F.next(counter, seen, 0, now)
if not fence then return bad end
redis.call('SET', counter, F.fmt(fence))
local attempt = 1
if w then attempt = w.attempt + 1 end
local nw = {window = window, run_id = run_id, attempt = attempt, fence = fence,
  identity = identity, start_us = now, end_us = 0, until_us = now + lease * 1000,
  status = 'running', lease_ms = lease, closes_us = closes}
R.save(wkey, records, nw, true)
redis.call('LPUSH', order, run_id)
-- Trim to keep, oldest first, but keep the records of attempts whose
-- lease holds: the API finds a run by its id in them, to renew or
-- complete it however many windows were claimed since.
local live = {}
while redis.call('LLEN', order) > keep do
  local id = redis.call('RPOP', order)
  local raw = redis.call('HGET', records, id)
  local ok, rec = pcall(cjson.decode, raw or '')
  if ok and type(rec) == 'table' and rec.status == 'running' and (F.exact(rec.until_us) or 0) > now then
    table.insert(live, id)
  else
    redis.call('HDEL', records, id)
  end
end
for i = #live, 1, -1 do redis.call('RPUSH', order, live[i]) end -- oldest last
R.expire(keys, nw, now, grace)
-- The announcement is best effort (pcall): a PUBLISH the ACL denies must
-- not fail the claim after its writes. Waiters also wake by their timers.
redis.pcall('PUBLISH', channel, 'claimed ' .. window)
return {'ok', F.fmt(fence), attempt, F.fmt(now)}
