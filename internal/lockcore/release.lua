-- release.lua: delete the lease if the caller's token owns it, and announce
-- the release within the same atomic step, so a waiter can never see the
-- message before the key is gone. The Go side prepends queue.lua and
-- read.lua.
--
-- KEYS[1] lease hash, KEYS[2] term record (see acquire.lua; one hash slot)
-- KEYS[3] fair queue, KEYS[4] its deadlines (see queue.lua)
-- KEYS[5] fencing counter
-- ARGV[1] owner token, ARGV[2] release channel, ARGV[3] wake channel prefix,
-- ARGV[4] keep: an application lock's key grace in ms
--
-- Replies: 1 released and published; 0 not the owner (the lease unchanged).
--
-- Whom it tells: when fair waiters are queued, only the head of the queue,
-- on its own wake channel (dead entries are pruned first); otherwise the
-- release channel, where plain waiters listen. A token that is not the
-- owner still leaves the queue: that is how a fair waiter whose wait ran
-- out, or an acquire cut short, removes its entry; if it was the head and
-- the lease is free, the next waiter is woken in its place.
--
-- A script that fails half-way keeps its earlier writes: Redis does not
-- roll them back. PUBLISH therefore runs before DEL, and permissions are
-- checked before either, so that a denied PUBLISH leaves the lease in place
-- (it expires by its TTL) instead of deleting it without telling waiters.
--
-- The term record's validity ends with the release (valid_until_us 0), so
-- the next candidate takes over at once. It is touched only when it is
-- this term's record; a foreign value there is left alone, as is a queue
-- key of a foreign type. DEL needs no memory, so Redis lets the writes
-- after it run even when it is out of memory.
--
-- An application lock's counter and term record (those with a TTL: see
-- acquire.lua's key rules) then expire within keep ms, since no term can
-- be valid any more. Keys without a TTL, the election's, keep having none.
local lease, term, token, channel = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local queue, deadlines, wake_prefix = KEYS[3], KEYS[4], ARGV[3]
local counter, keep = KEYS[5], tonumber(ARGV[4]) or 0
-- One TYPE for a lock that never had fair waiters: the two keys of a
-- queue come and go together.
local Q -- the queue's rules, built only for a lock that has a queue
local queued = redis.call('TYPE', queue)['ok'] == 'zset'
if queued then
  Q = queue_rules()
  queued = Q.check(queue, deadlines) == nil
end

local owner, fence
local r = read('HMGET', lease, 'owner', 'fence') -- nil for a foreign type
if r then owner, fence = r[1], r[2] end
if owner ~= token then
  if queued then
    local rank = Q.remove(queue, deadlines, token)
    if rank == 0 and redis.call('EXISTS', lease) == 0 then
      Q.prune(queue, deadlines, Q.now_us())
      Q.wake(queue, wake_prefix, 0, token, '')
    end
  end
  return 0
end

local target = channel
if queued then
  Q.prune(queue, deadlines, Q.now_us())
  local head = Q.at(queue, 0)
  if head then target = wake_prefix .. head end
end
if not may_publish(target) then
  return redis.error_reply('NOPERM redislock: the ACL user may not PUBLISH to ' .. target ..
    '; the lease is left to expire by its TTL')
end
-- Subscribers read the message only after this script, so they cannot try
-- before the DEL.
redis.call('PUBLISH', target, fence or '')
redis.call('DEL', lease)
if fence and read('HGET', term, 'fence') == fence then
  redis.call('HSET', term, 'valid_until_us', '0')
  if keep > 0 then
    local keys = {term}
    if F.exact(read('GET', counter)) then keys[2] = counter end
    for _, key in ipairs(keys) do
      if redis.call('PTTL', key) > keep then redis.call('PEXPIRE', key, keep) end
    end
  end
end
return 1
