-- semaphore_keys.lua: the rules of a semaphore's own keys, for its acquire,
-- renew and release scripts, which the Go side compiles with this file in
-- front (after fence.lua).
--
-- A semaphore's keys follow an application's key rules (see acquire.lua):
-- the permits, the holders, the fence counter and the permit count expire
-- keep ms after the furthest permit's end, set on every write that gives
-- or ends a permit, so that a name nobody holds leaves no key behind.
--
-- The permit count records the N of the first user: a user of another N
-- is refused before anything is written, since each user admits itself
-- while fewer than its own N are held.

-- sem_count checks n against the count recorded at key: nil when it is n
-- or none is recorded, else {'permits', recorded} or a foreign reply.
local function sem_count(key, n)
  local raw, ctype = read('GET', key)
  if raw == nil then return {'foreign', key, ctype} end
  if not raw then return nil end
  local recorded = F.exact(raw)
  if not recorded or recorded < 1 then
    return {'foreign', key, 'string that is not a number of permits'}
  end
  if recorded ~= n then return {'permits', F.fmt(recorded)} end
  return nil
end

-- sem_expire sets the TTL of the semaphore's keys to the furthest permit's
-- end (now when none is held) plus keep ms. The caller has checked the
-- permits' and the holders' types; a foreign counter or count is left
-- untouched. keep 0 sets none.
local function sem_expire(permits, holders, counter, count, keep, now)
  if keep == 0 then return end
  local ms = keep
  local last = redis.call('ZRANGE', permits, -1, -1, 'WITHSCORES')
  if last[2] then ms = ms + math.max(0, math.floor((tonumber(last[2]) - now + 999) / 1000)) end
  redis.call('PEXPIRE', permits, ms)
  redis.call('PEXPIRE', holders, ms)
  for _, key in ipairs({counter, count}) do
    if F.exact(read('GET', key)) then redis.call('PEXPIRE', key, ms) end
  end
end
