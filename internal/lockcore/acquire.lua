-- acquire.lua: take the lease if it is free.
--
-- KEYS[1] lease hash (owner, holder, fence, acquired_us; with a TTL)
-- KEYS[2] fencing counter: a string holding the last fence
-- KEYS[3] term record: a hash with fence and valid_until_us
-- (all three in one Cluster hash slot through the {name} tag)
-- ARGV[1] owner token, ARGV[2] holder identity, ARGV[3] TTL in milliseconds,
-- ARGV[4] release channel, ARGV[5] the highest fence this client has seen,
-- ARGV[6] how long, in ms, a lease at that fence may still be valid as far
-- as this client knows (0: none can be), ARGV[7] keep: the key rules, 0 for
-- the election's, else an application lock's grace in ms (see below)
--
-- Replies, always a flat array whose first element says which:
--   {'ok', fence, pttl}              the caller holds the lease (new term, or
--                                    its own token already held it)
--   {'held', holder, fence, pttl}    someone else holds it for pttl ms more;
--                                    holder '' is a quarantine: lost writes,
--                                    an unknown store (the election's keys),
--                                    or a lease that vanished (eviction, DEL)
--                                    while its term may still be valid
--   {'foreign', key, what}           a value baton did not write; untouched
--   {'denied', command, channel}     the ACL user may not run command on the
--                                    release channel; nothing was written
--   {'invalid', what}                a bad argument; nothing was written
--
-- The term record says, in Redis server time (TIME, microseconds), until
-- when the newest term can be valid: every write that sets a lease's TTL
-- also raises valid_until_us to at least that expiry, and only a release
-- by the owner lowers it (to 0). The lease alone can vanish before its TTL,
-- through maxmemory eviction (volatile-* policies evict keys with a TTL,
-- and the lease is the only one) or an operator's DEL; its holder still
-- believes in its term, so nobody may lead until valid_until_us.
--
-- The key rules (ARGV[7]). The election's keys (keep 0) never expire, and
-- a store with neither the counter nor the term record is unknown: the
-- data may have been lost (FLUSHALL, a restart without persistence) while
-- a leader still believes in its term, so the first candidate writes a
-- quarantine of one TTL and everybody waits it out. An application lock's
-- counter and term record (keep > 0) expire keep ms after the furthest
-- lease end the term record holds, set on every write, so that a name
-- nobody uses leaves no key; a missing record is then the normal state of
-- an idle name. Fences keep growing either way: they include Redis TIME.
--
-- Redis refuses a command that needs memory (OOM, maxmemory under
-- noeviction) only while the script has not written yet. A new term's
-- first write is SET of the counter, so an acquire refused for memory
-- writes nothing; an extension of the caller's own lease starts with
-- PEXPIRE, which needs none, so it goes through, as renew.lua does.
local lease, counter, term = KEYS[1], KEYS[2], KEYS[3]
local token, holder, channel = ARGV[1], ARGV[2], ARGV[4]

local function foreign(key, what) return {'foreign', key, what} end

-- Fences and times are decimal strings of at most 2^53 - 1: fence.lua,
-- which the Go side compiles in front of this script, has the rules.
local MAX_FENCE, exact, fmt = F.MAX, F.exact, F.fmt

local ttl = exact(ARGV[3])
if not ttl or ttl < 1 then
  return {'invalid', 'TTL ' .. tostring(ARGV[3]) .. ' is not a whole number of milliseconds'}
end
local seen = exact(ARGV[5])
if not seen then
  return {'invalid', 'seen fence ' .. tostring(ARGV[5]) .. ' is not an integer of at most 2^53-1'}
end
local seen_ms = exact(ARGV[6])
if not seen_ms then
  return {'invalid', 'seen lease time ' .. tostring(ARGV[6]) .. ' is not a whole number of milliseconds'}
end
local keep = exact(ARGV[7])
if not keep then
  return {'invalid', 'key grace ' .. tostring(ARGV[7]) .. ' is not a whole number of milliseconds'}
end

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

-- PTTL says whether the lease exists (-2: no key), for any type, in the
-- one call the free lease costs. Someone else's lease is answered before
-- the functions below are even built: a waiter's try that finds the lock
-- taken, the herd's case, costs two reads.
local pttl = redis.call('PTTL', lease)
local own -- the caller's own lease's fence, when its token holds it
if pttl ~= -2 then
  local r, ltype = read('HMGET', lease, 'owner', 'holder', 'fence')
  if not r then return foreign(lease, ltype) end
  local owner, who, fence = r[1], r[2], r[3]
  if not owner or not who or not exact(fence) or pttl < 0 then
    return foreign(lease, 'hash without baton fields or without TTL')
  end
  if owner ~= token then
    return {'held', who, fence, pttl}
  end
  own = fence
end

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- read_term returns the term's fence and valid_until_us (0, 0 when there is
-- no record), or nil and a foreign reply.
local function read_term()
  local r, ttype = read('HMGET', term, 'fence', 'valid_until_us')
  if not r then return nil, foreign(term, ttype) end
  local f, u = r[1], r[2]
  -- Neither field: no record yet, unless a hash of someone else's is there.
  if not f and not u and redis.call('EXISTS', term) == 0 then return 0, 0 end
  f, u = exact(f), exact(u)
  if not f or not u then
    return nil, foreign(term, 'hash without baton fields (fence, valid_until_us below 2^53)')
  end
  return f, u
end

-- too_long reports a lease of ms whose end, in microseconds, Lua cannot
-- represent.
local function too_long(now, ms)
  if now + ms * 1000 > tonumber(MAX_FENCE) then
    return {'invalid', 'TTL ' .. fmt(ms) .. ' ms reaches past 2^53 microseconds'}
  end
  return nil
end

-- record raises the term record to fence and to now + ms: never below
-- what it already says, so that only a release can shorten it. Then it
-- applies the key rules (see the header) to the counter and the record.
local function record(fence, old_fence, old_until, now, ms)
  local valid_until = math.max(now + ms * 1000, old_until)
  redis.call('HSET', term, 'fence', fmt(math.max(fence, old_fence)),
    'valid_until_us', fmt(valid_until))
  if keep == 0 then
    redis.call('PERSIST', term)
    return
  end
  local expire = math.floor((valid_until - now + 999) / 1000) + keep
  redis.call('PEXPIRE', counter, expire)
  redis.call('PEXPIRE', term, expire)
end

if own then
  local tfence, tuntil = read_term()
  if not tfence then return tuntil end
  if keep > 0 then
    -- The counter is checked before record sets its TTL: a foreign value
    -- is never touched.
    local _, bad_counter = F.last(counter)
    if bad_counter then return bad_counter end
  end
  local now = now_us()
  local bad = too_long(now, ttl)
  if bad then return bad end
  -- PEXPIRE first: it needs no memory (see the header).
  redis.call('PEXPIRE', lease, ttl)
  record(exact(own), tfence, tuntil, now, ttl)
  return {'ok', own, ttl}
end

-- The lease is free. The next fence is max(counter + 1, server time in
-- microseconds): it grows from term to term, and keeps growing after the
-- counter is lost to a restart without persistence or to FLUSHALL.
local last, bad_counter = F.last(counter)
if not last then return bad_counter end
local tfence, tuntil = read_term()
if not tfence then return tuntil end
last = math.max(last, tfence)
local now = now_us()

-- The lease is gone but its term may still be valid: it was evicted or
-- deleted, not released. Quarantine until the recorded validity, for every
-- candidate, including one that has never seen a fence.
if tuntil > now then
  return {'held', '', fmt(tfence), math.floor((tuntil - now + 999) / 1000)}
end
local bad = too_long(now, ttl)
if bad then return bad end

-- The caller has seen a fence above the counter, and knows that a lease at
-- it may still be valid for seen_ms: Redis lost writes (a restart without
-- persistence, FLUSHALL, a failover to a replica that missed them), and the
-- last holder may still believe in its term. (The Go side passes one TTL
-- under the election's rules, and the time left of the latest lease it
-- knows of under an application's, whose keys also expire by themselves.)
-- Or, under the election's rules, the store is unknown (see the header).
-- Nobody may lead until then: a quarantine lease with no owner makes every
-- candidate wait, and the counter moves past the fence seen.
local quarantine = 0
if seen > last then quarantine = seen_ms end
if keep == 0 and last == 0 then quarantine = math.max(quarantine, ttl) end
if quarantine > 0 then
  bad = too_long(now, quarantine)
  if bad then return bad end
  local floor = math.max(seen, now)
  redis.call('SET', counter, fmt(floor))
  redis.call('HSET', lease, 'owner', '', 'holder', '', 'fence', fmt(floor),
    'acquired_us', fmt(now))
  redis.call('PEXPIRE', lease, quarantine)
  record(floor, tfence, tuntil, now, quarantine)
  return {'held', '', fmt(floor), quarantine}
end

-- seen <= last here, or its lease has ended: the next fence passes it.
local next_fence, full = F.next(counter, last, seen, now)
if not next_fence then return full end
local fence = fmt(next_fence)

redis.call('SET', counter, fence)
redis.call('HSET', lease, 'owner', token, 'holder', holder, 'fence', fence,
  'acquired_us', fmt(now))
redis.call('PEXPIRE', lease, ttl)
record(next_fence, tfence, tuntil, now, ttl)
return {'ok', fence, ttl}
