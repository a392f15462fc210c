-- semaphore_inspect.lua: the live permits and the live queue, with no
-- writes (expired permits and dead entries are counted out, not pruned).
--
-- KEYS[1] permits, KEYS[2] holders, KEYS[3] queue, KEYS[4] deadlines
--
-- Replies: {'ok', queued, identity1, fence1, ms1, identity2, ...} by
-- expiry, soonest first; {'foreign', key, what}.
local permits, holders, queue, deadlines = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
for key, want in pairs({[permits] = 'zset', [holders] = 'hash', [queue] = 'zset', [deadlines] = 'zset'}) do
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then return {'foreign', key, t} end
end
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local after = '(' .. string.format('%d', now)
local out = {'ok', redis.call('ZCOUNT', deadlines, after, '+inf')}
local live = redis.call('ZRANGEBYSCORE', permits, after, '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  local info = redis.call('HGET', holders, live[i]) or ''
  local f, who = string.match(info, '^(%d+):(.*)$')
  table.insert(out, who or '')
  table.insert(out, f or '0')
  table.insert(out, math.floor((tonumber(live[i + 1]) - now + 999) / 1000))
end
return out
