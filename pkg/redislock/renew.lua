-- renew.lua: extend the lease while the caller's token still owns it.
--
-- KEYS[1] lease hash
-- ARGV[1] owner token, ARGV[2] TTL in milliseconds
--
-- Replies:
--   {'ok'}                  extended to ARGV[2] ms
--   {'lost', holder}        the lease is gone (holder '') or someone else's
--   {'foreign', key, what}  a value baton did not write; untouched
local lease, token, ttl = KEYS[1], ARGV[1], ARGV[2]

local ltype = redis.call('TYPE', lease)['ok']
if ltype == 'none' then
  return {'lost', ''}
elseif ltype ~= 'hash' then
  return {'foreign', lease, ltype}
end
local owner, who = unpack(redis.call('HMGET', lease, 'owner', 'holder'))
if not owner or not who then
  return {'foreign', lease, 'hash without baton fields'}
end
if owner ~= token then
  return {'lost', who}
end
redis.call('PEXPIRE', lease, ttl)
return {'ok'}
