-- release.lua: delete the lease if the caller's token owns it, and announce
-- the release on the channel within the same atomic step, so a waiter can
-- never see the message before the key is gone.
--
-- KEYS[1] lease hash, KEYS[2] term record (see acquire.lua; one hash slot)
-- ARGV[1] owner token, ARGV[2] release channel
--
-- Replies: 1 released and published; 0 not the owner (nothing changed).
-- A script that fails half-way keeps its earlier writes: Redis does not
-- roll them back. PUBLISH therefore runs before DEL, and permissions are
-- checked before either, so that a denied PUBLISH leaves the lease in place
-- (it expires by its TTL) instead of deleting it without telling waiters.
--
-- The term record's validity ends with the release (valid_until_us 0), so
-- the next candidate takes over at once. It is touched only when it is
-- this term's record; a foreign value there is left alone. DEL is the first
-- write and needs no memory, so Redis lets the HSET after it run even when
-- it is out of memory.
local lease, term, token, channel = KEYS[1], KEYS[2], ARGV[1], ARGV[2]

if redis.call('TYPE', lease)['ok'] ~= 'hash' then
  return 0
end
local owner, fence = unpack(redis.call('HMGET', lease, 'owner', 'fence'))
if owner ~= token then
  return 0
end
if redis.acl_check_cmd and not redis.acl_check_cmd('PUBLISH', channel, fence or '') then
  return redis.error_reply('NOPERM redislock: the ACL user may not PUBLISH to ' .. channel ..
    '; the lease is left to expire by its TTL')
end
-- Subscribers read the message only after this script, so they cannot try
-- before the DEL.
redis.call('PUBLISH', channel, fence or '')
redis.call('DEL', lease)
if fence and redis.call('TYPE', term)['ok'] == 'hash' and redis.call('HGET', term, 'fence') == fence then
  redis.call('HSET', term, 'valid_until_us', '0')
end
return 1
