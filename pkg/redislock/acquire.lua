-- acquire.lua: take the lease if it is free.
--
-- KEYS[1] lease hash, KEYS[2] fencing counter (both in one hash slot)
-- ARGV[1] owner token, ARGV[2] holder identity, ARGV[3] TTL in milliseconds,
-- ARGV[4] release channel, ARGV[5] the highest fence this client has seen
--
-- Replies, always a flat array whose first element says which:
--   {'ok', fence, pttl}              the caller holds the lease (new term, or
--                                    its own token already held it)
--   {'held', holder, fence, pttl}    someone else holds it for pttl ms more;
--                                    holder '' is a data-loss quarantine
--   {'foreign', key, what}           a value baton did not write; untouched
--   {'denied', command, channel}     the ACL user may not run command on the
--                                    release channel; nothing was written
local lease, counter = KEYS[1], KEYS[2]
local token, holder, ttl, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local function foreign(key, what) return {'foreign', key, what} end

-- A user that may not announce its release, or may not wait for one, must
-- never lead: its release would fail half-way, and waiters would only learn
-- of it when the lease expires. (redis.acl_check_cmd exists from Redis 7.)
if redis.acl_check_cmd then
  if not redis.acl_check_cmd('PUBLISH', channel, '') then
    return {'denied', 'PUBLISH', channel}
  end
  if not redis.acl_check_cmd('SUBSCRIBE', channel) then
    return {'denied', 'SUBSCRIBE', channel}
  end
end

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

-- The caller has seen a fence above the counter: Redis lost writes (a
-- restart without persistence, FLUSHALL, a failover to a replica that
-- missed them). The last holder may still believe in its term for up to a
-- TTL, so nobody may lead for one TTL: a quarantine lease with no owner
-- makes every candidate wait, and the counter moves past the fence seen.
local seen = tonumber(ARGV[5]) or 0
if seen > last then
  local floor = string.format('%d', math.max(seen, now_us))
  redis.call('SET', counter, floor)
  redis.call('HSET', lease, 'owner', '', 'holder', '', 'fence', floor,
    'acquired_us', string.format('%d', now_us))
  redis.call('PEXPIRE', lease, ttl)
  return {'held', '', floor, tonumber(ttl)}
end

local next_fence = last + 1
if now_us > next_fence then next_fence = now_us end
-- %d keeps all digits; tostring would switch to exponent notation.
local fence = string.format('%d', next_fence)

redis.call('SET', counter, fence)
redis.call('HSET', lease, 'owner', token, 'holder', holder, 'fence', fence,
  'acquired_us', string.format('%d', now_us))
redis.call('PEXPIRE', lease, ttl)
return {'ok', fence, tonumber(ttl)}
