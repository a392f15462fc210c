-- semaphore_renew.lua: extend the caller's permit while its token holds it.
--
-- KEYS[1] permits (see semaphore_acquire.lua)
-- ARGV[1] owner token, ARGV[2] TTL in milliseconds
--
-- Replies: {'ok'}; {'lost'} when the permit expired or was never the
-- token's; {'foreign', key, what} untouched. An expired permit is never
-- revived: another holder may have its place.
local permits, token = KEYS[1], ARGV[1]
local ttl = tonumber(ARGV[2])
if not ttl or ttl < 1 or ttl ~= math.floor(ttl) then
  return redis.error_reply('ERR redislock: TTL ' .. tostring(ARGV[2]) .. ' is not a whole number of milliseconds')
end
local t = redis.call('TYPE', permits)['ok']
if t ~= 'none' and t ~= 'zset' then return {'foreign', permits, t} end
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local expiry = tonumber(redis.call('ZSCORE', permits, token))
if not expiry or expiry <= now then return {'lost'} end
redis.call('ZADD', permits, 'XX', now + ttl * 1000, token)
return {'ok'}
