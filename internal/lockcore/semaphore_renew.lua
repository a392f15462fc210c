-- semaphore_renew.lua: extend the caller's permit while its token holds it.
--
-- KEYS[1] permits, KEYS[2] holders, KEYS[3] fence counter, KEYS[4] permit
-- count (see semaphore_acquire.lua)
-- ARGV[1] owner token, ARGV[2] TTL in milliseconds, ARGV[3] keep: the
-- keys' grace in ms (semaphore_keys.lua, which the Go side runs in front,
-- after fence.lua)
--
-- Replies: {'ok'}; {'lost'} when the permit expired or was never the
-- token's; {'foreign', key, what} untouched. An expired permit is never
-- revived: another holder may have its place.
local permits, holders, counter, count, token = KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1]
local ttl, keep = F.exact(ARGV[2]), F.exact(ARGV[3])
if not ttl or ttl < 1 then
  return redis.error_reply('ERR redislock: TTL ' .. tostring(ARGV[2]) .. ' is not a whole number of milliseconds')
end
if not keep then
  return redis.error_reply('ERR redislock: key grace ' .. tostring(ARGV[3]) .. ' is not a whole number of milliseconds')
end
for key, want in pairs({[permits] = 'zset', [holders] = 'hash'}) do
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then return {'foreign', key, t} end
end
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local expiry = tonumber(redis.call('ZSCORE', permits, token))
if not expiry or expiry <= now then return {'lost'} end
redis.call('ZADD', permits, 'XX', now + ttl * 1000, token)
sem_expire(permits, holders, counter, count, keep, now)
return {'ok'}
