-- acquire.lua: take the lease if it is free.
--
-- KEYS[1] lease hash, KEYS[2] fencing counter (both in one hash slot)
-- ARGV[1] owner token, ARGV[2] holder identity, ARGV[3] TTL in milliseconds
--
-- Replies, always a flat array whose first element says which:
--   {'ok', fence, pttl}              the caller holds the lease (new term, or
--                                    its own token already held it)
--   {'held', holder, fence, pttl}    someone else holds it for pttl ms more
--   {'foreign', key, what}           a value baton did not write; untouched
local lease, counter = KEYS[1], KEYS[2]
local token, holder, ttl = ARGV[1], ARGV[2], ARGV[3]

local function foreign(key, what) return {'foreign', key, what} end

local ltype = redis.call('TYPE', lease)['ok']
if ltype == 'hash' then
  local owner, who, fence = unpack(redis.call('HMGET', lease, 'owner', 'holder', 'fence'))
  local pttl = redis.call('PTTL', lease)
  if not owner or not who or not fence or pttl < 0 then
    return foreign(lease, 'hash without baton fields or without TTL')
  end
  if owner == token then
    redis.call('PEXPIRE', lease, ttl)
    return {'ok', fence, tonumber(ttl)}
  end
  return {'held', who, fence, pttl}
elseif ltype ~= 'none' then
  return foreign(lease, ltype)
end

-- The lease is free. The next fence is max(counter + 1, server time in
-- microseconds): it grows from term to term, and keeps growing after the
-- counter is lost to a restart without persistence or to FLUSHALL.
local last = 0
local ctype = redis.call('TYPE', counter)['ok']
if ctype == 'string' then
  local raw = redis.call('GET', counter)
  last = tonumber(raw)
  if not last or not string.match(raw, '^%d+$') then
    return foreign(counter, 'string that is not a fence')
  end
elseif ctype ~= 'none' then
  return foreign(counter, ctype)
end
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local next_fence = last + 1
if now_us > next_fence then next_fence = now_us end
-- %d keeps all digits; tostring would switch to exponent notation.
local fence = string.format('%d', next_fence)

redis.call('SET', counter, fence)
redis.call('HSET', lease, 'owner', token, 'holder', holder, 'fence', fence,
  'acquired_us', string.format('%d', now_us))
redis.call('PEXPIRE', lease, ttl)
return {'ok', fence, tonumber(ttl)}
