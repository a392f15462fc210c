-- renew.lua: extend the lease while the caller's token still owns it.
--
-- KEYS[1] lease hash, KEYS[2] term record, KEYS[3] fencing counter (see
-- acquire.lua; one hash slot)
-- ARGV[1] owner token, ARGV[2] TTL in milliseconds, ARGV[3] keep: the key
-- rules of acquire.lua (0 the election's; else an application lock's
-- counter and term record expire keep ms after the new expiry)
--
-- Replies:
--   {'ok'}                  extended to ARGV[2] ms
--   {'lost', holder}        the lease is gone (holder '') or someone else's
--   {'foreign', key, what}  a value baton did not write; untouched
--
-- The term record's valid_until_us is raised to the new expiry, in Redis
-- server time, so that a lease that vanishes (eviction, DEL) still holds
-- every candidate off until then. PEXPIRE goes first: it needs no memory,
-- and once a script has written, Redis lets it finish even when it is out
-- of memory, so a renew keeps working on a full Redis under noeviction.
local lease, term, counter, token = KEYS[1], KEYS[2], KEYS[3], ARGV[1]

-- Fences and times are decimal strings of at most 2^53 - 1: fence.lua,
-- which the Go side compiles in front of this script, has the rules.
local MAX_FENCE, exact, fmt = F.MAX, F.exact, F.fmt

local ttl = exact(ARGV[2])
if not ttl or ttl < 1 then
  return redis.error_reply('ERR redislock: TTL ' .. tostring(ARGV[2]) .. ' is not a whole number of milliseconds')
end
local keep = exact(ARGV[3])
if not keep then
  return redis.error_reply('ERR redislock: key grace ' .. tostring(ARGV[3]) .. ' is not a whole number of milliseconds')
end

local r, ltype = read('HMGET', lease, 'owner', 'holder', 'fence')
if not r then
  return {'foreign', lease, ltype}
end
local owner, who, fence = r[1], r[2], exact(r[3])
if not owner and not who and not r[3] and redis.call('EXISTS', lease) == 0 then
  return {'lost', ''}
end
if not owner or not who or not fence then
  return {'foreign', lease, 'hash without baton fields'}
end
if owner ~= token then
  return {'lost', who}
end

local tfence, tuntil = 0, 0
local t, ttype = read('HMGET', term, 'fence', 'valid_until_us')
if not t then
  return {'foreign', term, ttype}
end
if t[1] or t[2] or redis.call('EXISTS', term) == 1 then
  tfence, tuntil = exact(t[1]), exact(t[2])
  if not tfence or not tuntil then
    return {'foreign', term, 'hash without baton fields (fence, valid_until_us below 2^53)'}
  end
end
local now = redis.call('TIME')
local valid_until = tonumber(now[1]) * 1000000 + tonumber(now[2]) + ttl * 1000
if valid_until > tonumber(MAX_FENCE) then
  return redis.error_reply('ERR redislock: TTL ' .. ARGV[2] .. ' ms reaches past 2^53 microseconds')
end

redis.call('PEXPIRE', lease, ttl)
local furthest = math.max(tuntil, valid_until)
redis.call('HSET', term, 'fence', fmt(math.max(tfence, fence)),
  'valid_until_us', fmt(furthest))
if keep > 0 then
  local expire = math.floor((furthest - valid_until + 999) / 1000) + ttl + keep
  redis.call('PEXPIRE', term, expire)
  -- A foreign counter is left untouched; the next acquire reports it.
  if exact(read('GET', counter)) then redis.call('PEXPIRE', counter, expire) end
end
return {'ok'}
