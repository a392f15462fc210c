-- semaphore_acquire.lua: one try to take a permit of a counting semaphore.
-- The Go side runs queue.lua, fence.lua and semaphore_keys.lua in front of
-- it.
--
-- KEYS[1] permits: sorted set, owner token by lease expiry (Redis server
--         time, microseconds); a permit past its expiry is free again
-- KEYS[2] holders: hash, owner token -> '<fence>:<identity>'
-- KEYS[3] fence counter: a string
-- KEYS[4] queue, KEYS[5] deadlines (fair mode; see queue.lua)
-- KEYS[6] permit count: a string, the N of the first user
-- (KEYS 1, 2, 3 and 6 expire by semaphore_keys.lua's rules)
-- (all in one hash slot through the {name} tag)
-- ARGV[1] owner token, ARGV[2] identity, ARGV[3] TTL ms, ARGV[4] permits N,
-- ARGV[5] release channel, ARGV[6] highest fence the caller has seen,
-- ARGV[7] '1' fair, ARGV[8] '1' enqueue when not admitted (fair only),
--         'j' (not fair) a plain waiter's try, which joins the fair queue
--         when there is one and then answers as a fair try (head_ms >= 0),
-- ARGV[9] wake channel prefix, ARGV[10] queue entry lifetime ms,
-- ARGV[11] keep: the keys' grace in ms, ARGV[12] how long, in ms, a permit
-- at the seen fence may still be valid as far as the caller knows
--
-- Replies:
--   {'ok', fence, ttl}
--   {'held', identity, fence, pttl, ahead, head_ms, free}: no permit now;
--        identity, fence and pttl describe the permit that expires first
--        ('', last fence, 0 when none is held); ahead and head_ms as in
--        fair_acquire.lua; free is the number of permits not held
--   {'permits', recorded}: another N is recorded; nothing was written
--   {'foreign', key, what}  {'denied', command, channel}  {'invalid', what}
--
-- Every permit has its own lease: expired ones are pruned first, so a
-- crashed holder's permit comes back when its lease ends in Redis time. In
-- fair mode the caller is admitted only within the first `free` places of
-- the queue; otherwise whenever fewer than N permits are held.
local permits, holders, counter, queue, deadlines, count = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local token, identity, channel, wake_prefix = ARGV[1], ARGV[2], ARGV[5], ARGV[9]
local fair, enqueue = ARGV[7] == '1', ARGV[8] == '1'
-- A plain waiter joins a fair queue it finds (releases wake only the queue),
-- unless it could not hear its wake-up there.
if not fair and ARGV[8] == 'j' and redis.call('EXISTS', queue) == 1 then
  local own = wake_prefix .. token
  fair = not redis.acl_check_cmd or (redis.acl_check_cmd('SUBSCRIBE', own) and redis.acl_check_cmd('PUBLISH', own, ''))
  enqueue = fair
end

local ttl, n, seen, lifetime_ms = F.exact(ARGV[3]), F.exact(ARGV[4]), F.exact(ARGV[6]), F.exact(ARGV[10])
local keep, seen_ms = F.exact(ARGV[11]), F.exact(ARGV[12])
if not ttl or ttl < 1 then return {'invalid', 'TTL ' .. tostring(ARGV[3]) .. ' is not a whole number of milliseconds'} end
if not n or n < 1 then return {'invalid', 'permits ' .. tostring(ARGV[4]) .. ' is not a positive integer'} end
if not seen then return {'invalid', 'seen fence ' .. tostring(ARGV[6]) .. ' is not an integer of at most 2^53-1'} end
if not keep then return {'invalid', 'key grace ' .. tostring(ARGV[11]) .. ' is not a whole number of milliseconds'} end
if not seen_ms then return {'invalid', 'seen lease time ' .. tostring(ARGV[12]) .. ' is not a whole number of milliseconds'} end
if fair and (not lifetime_ms or lifetime_ms < 1) then
  return {'invalid', 'queue entry lifetime ' .. tostring(ARGV[10]) .. ' is not a whole number of milliseconds'}
end

-- The ACL check of acquire.lua: a holder must be able to announce its
-- release, a waiter to hear it.
if redis.acl_check_cmd then
  local checks = {{'PUBLISH', channel}, {'SUBSCRIBE', channel}}
  if fair then
    table.insert(checks, {'PUBLISH', wake_prefix .. token})
    table.insert(checks, {'SUBSCRIBE', wake_prefix .. token})
  end
  for _, c in ipairs(checks) do
    local ok
    if c[1] == 'PUBLISH' then ok = redis.acl_check_cmd('PUBLISH', c[2], '') else ok = redis.acl_check_cmd('SUBSCRIBE', c[2]) end
    if not ok then return {'denied', c[1], c[2]} end
  end
end

for key, want in pairs({[permits] = 'zset', [holders] = 'hash'}) do
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then return {'foreign', key, t} end
end
if fair then
  local bad = Q.check(queue, deadlines)
  if bad then return bad end
end
local last, bad = F.last(counter)
if not last then return bad end
bad = sem_count(count, n)
if bad then return bad end
-- The caller has seen a fence above the counter, at a permit that may
-- still be valid: Redis lost writes. It admits nobody until that permit's
-- end (a quarantine of this caller's own; nothing is written).
if seen > last and seen_ms > 0 then
  return {'held', '', F.fmt(seen), seen_ms, 0, -1, 0}
end

local now = Q.now_us()
if now + ttl * 1000 > tonumber(F.MAX) then
  return {'invalid', 'TTL ' .. ARGV[3] .. ' ms reaches past 2^53 microseconds'}
end
-- Expired permits are free again.
local dead = redis.call('ZRANGEBYSCORE', permits, '-inf', now)
for _, t in ipairs(dead) do
  redis.call('ZREM', permits, t)
  redis.call('HDEL', holders, t)
end
local pruned = nil
if fair then pruned = Q.prune(queue, deadlines, now) end

local free = n - redis.call('ZCARD', permits)

-- wake_free tells the waiters of `places` free places, which came free
-- by expiry or by the death of the waiters before them: no release told
-- them. Without fairness, the release channel does.
local function wake_free(places)
  if not fair then
    if Q.may_publish(channel) then redis.call('PUBLISH', channel, '') end
    return
  end
  for r = 0, math.min(places, redis.call('ZCARD', queue)) - 1 do
    Q.wake(queue, wake_prefix, r, token, '')
  end
end
local admitted = free > 0
local rank = 0
if fair then
  rank = Q.rank(queue, token)
  admitted = rank < free
end

if admitted then
  local fence, bad = F.next(counter, last, seen, now)
  if not fence then return bad end
  redis.call('SET', counter, F.fmt(fence))
  redis.call('ZADD', permits, now + ttl * 1000, token)
  redis.call('HSET', holders, token, F.fmt(fence) .. ':' .. identity)
  redis.call('SET', count, F.fmt(n))
  sem_expire(permits, holders, counter, count, keep, now)
  if fair then Q.remove(queue, deadlines, token) end
  if #dead > 0 and free > 1 then wake_free(free - 1) end
  return {'ok', F.fmt(fence), ttl}
end

if fair then
  if enqueue then
    -- A new queue is announced on the release channel: plain waiters join it.
    local fresh = redis.call('EXISTS', queue) == 0
    rank = Q.enqueue(queue, deadlines, token, now, lifetime_ms * 1000)
    if fresh then redis.call('PUBLISH', channel, '') end
  end
  if #dead > 0 or (pruned and pruned < free) then wake_free(free) end
end

local who, fence, pttl = '', F.fmt(last), 0
local first = redis.call('ZRANGE', permits, 0, 0, 'WITHSCORES')
if first[1] then
  local info = redis.call('HGET', holders, first[1]) or ''
  local f, i = string.match(info, '^(%d+):(.*)$')
  if f then who, fence = i, f end
  pttl = math.max(1, math.floor((tonumber(first[2]) - now + 999) / 1000))
end
local head_ms = -1
if fair then head_ms = Q.remaining_ms(queue, deadlines, 0, now) end
return {'held', who, fence, pttl, rank, head_ms, free}
