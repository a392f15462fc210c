-- semaphore_release.lua: give a permit back if the caller's token holds
-- it, and tell the waiters, in one atomic step. The Go side runs queue.lua,
-- fence.lua and semaphore_keys.lua in front of it.
--
-- KEYS[1] permits, KEYS[2] holders, KEYS[3] queue, KEYS[4] deadlines,
-- KEYS[5] fence counter, KEYS[6] permit count (see semaphore_acquire.lua)
-- ARGV[1] owner token, ARGV[2] release channel, ARGV[3] wake prefix,
-- ARGV[4] permits N, ARGV[5] '1' fair, ARGV[6] keep: the keys' grace in ms
-- (semaphore_keys.lua: the keys expire keep ms after the furthest permit
-- left, or after the release when none is)
--
-- Replies: 1 released; 0 not held by the token (expired, or never): then
-- only the token's own queue entry is removed, which is how a fair waiter
-- that gives up leaves; {'foreign', key, what} untouched.
--
-- Whom it tells: in fair mode, the live waiters whose turn it now is (the
-- first `free` of the queue: under contention one, the head); otherwise,
-- and when nobody is queued, the release channel. Permissions are checked
-- before any write.
local permits, holders, queue, deadlines = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local counter, count, keep = KEYS[5], KEYS[6], F.exact(ARGV[6]) or 0
local token, channel, wake_prefix = ARGV[1], ARGV[2], ARGV[3]
local n, fair = tonumber(ARGV[4]), ARGV[5] == '1'

for key, want in pairs({[permits] = 'zset', [holders] = 'hash'}) do
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then return {'foreign', key, t} end
end
if fair then
  local bad = Q.check(queue, deadlines)
  if bad then return bad end
end
local now = Q.now_us()
local expiry = tonumber(redis.call('ZSCORE', permits, token))
local held = expiry and expiry > now

local function free()
  return n - redis.call('ZCOUNT', permits, '(' .. string.format('%d', now), '+inf')
end

if not held then
  if expiry then
    -- The token's own permit, expired: it is free already; tidy it.
    redis.call('ZREM', permits, token)
    redis.call('HDEL', holders, token)
    sem_expire(permits, holders, counter, count, keep, now)
  end
  if fair then
    local rank = Q.remove(queue, deadlines, token)
    local places = free()
    if rank and rank < places then
      Q.wake(queue, wake_prefix, places - 1, token, '')
    end
  end
  return 0
end

if not Q.may_publish(channel) then
  return redis.error_reply('NOPERM redislock: the ACL user may not PUBLISH to ' .. channel ..
    '; the permit is left to expire by its lease')
end
redis.call('ZREM', permits, token)
redis.call('HDEL', holders, token)
sem_expire(permits, holders, counter, count, keep, now)
local queued = 0
if fair then
  Q.prune(queue, deadlines, now)
  queued = redis.call('ZCARD', queue)
end
if queued == 0 then
  redis.call('PUBLISH', channel, '')
  return 1
end
for r = 0, math.min(free(), queued) - 1 do
  Q.wake(queue, wake_prefix, r, token, '')
end
return 1
