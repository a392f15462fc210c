-- release.lua: delete the lease if the caller's token owns it, and announce
-- the release on the channel within the same atomic step, so a waiter can
-- never see the message before the key is gone.
--
-- KEYS[1] lease hash
-- ARGV[1] owner token, ARGV[2] release channel
--
-- Replies: 1 released and published; 0 not the owner (nothing changed).
local lease, token, channel = KEYS[1], ARGV[1], ARGV[2]

if redis.call('TYPE', lease)['ok'] ~= 'hash' then
  return 0
end
local owner, fence = unpack(redis.call('HMGET', lease, 'owner', 'fence'))
if owner ~= token then
  return 0
end
redis.call('DEL', lease)
redis.call('PUBLISH', channel, fence or '')
return 1
