-- queue.lua: the rules of a fair queue, shared by every script that touches
-- one. It defines functions only; the Go side prepends it to the scripts
-- (fair_acquire.lua, release.lua, the semaphore's), so that each rule lives
-- here once.
--
-- The rules are built by queue_rules, which returns them as the table Q:
-- the Go side follows this file with `local Q = queue_rules()` for the
-- scripts that always use a queue, and release.lua calls it only when the
-- lock has one. Building a dozen closures costs Redis more than the whole
-- release of a lock without waiters, which is the common case.
--
-- A queue is two sorted sets in the lock's hash slot:
--   queue      member owner token, score its arrival number (1, 2, ...):
--              the order in which the enqueues ran;
--   deadlines  member owner token, score until when (Redis server time,
--              microseconds) the entry lives unless its waiter refreshes it.
-- Both always hold the same members. A waiter refreshes its entry to now +
-- 3 heartbeats on every try, and at least once per heartbeat on a timer of
-- its own (queue_refresh.lua), whether or not it is trying or subscribing;
-- an entry whose deadline has passed is dead and is removed by the next
-- script that looks.
-- Each waiter has its own wake channel, <wake prefix><token>: a release
-- publishes only to the waiter whose turn it is.

-- may_publish is the ACL check of a PUBLISH to channel (Redis 7 has
-- redis.acl_check_cmd; before it, every script may). Also Q.may_publish.
local function may_publish(channel)
  return not redis.acl_check_cmd or redis.acl_check_cmd('PUBLISH', channel, '')
end

local function queue_rules()
  local Q = {may_publish = may_publish}

  function Q.now_us()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000000 + tonumber(t[2])
  end

  -- Q.check returns a foreign reply when a queue key holds a value baton did
  -- not write (another type than a sorted set), or nil.
  function Q.check(queue, deadlines)
    for _, key in ipairs({queue, deadlines}) do
      local t = redis.call('TYPE', key)['ok']
      if t ~= 'none' and t ~= 'zset' then
        return {'foreign', key, t}
      end
    end
    return nil
  end

  -- Q.prune removes the dead entries (deadline at or before now) and returns
  -- the lowest rank that one of them had, or nil when none was dead.
  function Q.prune(queue, deadlines, now)
    local dead = redis.call('ZRANGEBYSCORE', deadlines, '-inf', now)
    local lowest = nil
    for _, token in ipairs(dead) do
      local rank = redis.call('ZRANK', queue, token)
      if rank and (not lowest or rank < lowest) then lowest = rank end
      redis.call('ZREM', queue, token)
      redis.call('ZREM', deadlines, token)
    end
    return lowest
  end

  -- Q.enqueue puts token at the end of the queue unless it is in it already,
  -- sets its deadline to now + lifetime_us, and returns its rank (0: head).
  function Q.enqueue(queue, deadlines, token, now, lifetime_us)
    if not redis.call('ZSCORE', queue, token) then
      local last = redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')
      local number = 1
      if last[2] then number = tonumber(last[2]) + 1 end
      redis.call('ZADD', queue, number, token)
    end
    redis.call('ZADD', deadlines, now + lifetime_us, token)
    return redis.call('ZRANK', queue, token)
  end

  -- Q.remove takes token's entry out and returns the rank it had, or nil.
  function Q.remove(queue, deadlines, token)
    local rank = redis.call('ZRANK', queue, token)
    if rank then
      redis.call('ZREM', queue, token)
      redis.call('ZREM', deadlines, token)
    end
    return rank
  end

  -- Q.at returns the token at rank, or nil.
  function Q.at(queue, rank)
    return redis.call('ZRANGE', queue, rank, rank)[1]
  end

  -- Q.rank returns token's rank, or the queue's length when it is not queued
  -- (everybody queued is ahead of it).
  function Q.rank(queue, token)
    return redis.call('ZRANK', queue, token) or redis.call('ZCARD', queue)
  end

  -- Q.remaining_ms is how long the entry at rank lives unless refreshed, in
  -- whole milliseconds rounded up, or -1 without one.
  function Q.remaining_ms(queue, deadlines, rank, now)
    local token = Q.at(queue, rank)
    if not token then return -1 end
    local deadline = tonumber(redis.call('ZSCORE', deadlines, token))
    return math.max(0, math.floor((deadline - now + 999) / 1000))
  end

  -- Q.wake publishes to the waiter at rank unless it is except (who is
  -- running this script and needs no message). A user that may not publish
  -- there wakes nobody: the waiter tries at its next heartbeat anyway.
  function Q.wake(queue, wake_prefix, rank, except, message)
    local token = Q.at(queue, rank)
    if token and token ~= except and Q.may_publish(wake_prefix .. token) then
      redis.call('PUBLISH', wake_prefix .. token, message)
    end
  end

  -- Q.lease_view reads a lock's lease for a waiter that is not taking it:
  -- {'held', holder, fence, pttl} while it is held, or while the term record
  -- says the last term may still be valid (holder '', a quarantine: see
  -- acquire.lua); {'free', '', last fence, 0}; or a foreign reply. It writes
  -- nothing.
  function Q.lease_view(lease, counter, term, now)
    local t = redis.call('TYPE', lease)['ok']
    if t == 'hash' then
      local who, fence = unpack(redis.call('HMGET', lease, 'holder', 'fence'))
      local pttl = redis.call('PTTL', lease)
      if not who or type(fence) ~= 'string' or not string.match(fence, '^%d+$') or pttl < 0 then
        return {'foreign', lease, 'hash without baton fields or without TTL'}
      end
      return {'held', who, fence, pttl}
    elseif t ~= 'none' then
      return {'foreign', lease, t}
    end
    local last = '0'
    local ctype = redis.call('TYPE', counter)['ok']
    if ctype == 'string' then
      local raw = redis.call('GET', counter)
      if not string.match(raw, '^%d+$') then return {'foreign', counter, 'string that is not a fence'} end
      last = raw
    elseif ctype ~= 'none' then
      return {'foreign', counter, ctype}
    end
    local ttype = redis.call('TYPE', term)['ok']
    if ttype == 'hash' then
      local f, u = unpack(redis.call('HMGET', term, 'fence', 'valid_until_us'))
      u = tonumber(u)
      if type(f) == 'string' and string.match(f, '^%d+$') and u then
        if #f > #last or (#f == #last and f > last) then last = f end
        if u > now then
          return {'held', '', last, math.floor((u - now + 999) / 1000)}
        end
      end
    end
    return {'free', '', last, 0}
  end

  -- Q.refresh extends token's entry to now + lifetime_us when it is live, and
  -- reports whether it was. A missing or dead entry is never revived: the
  -- waiter's next try queues it again, at the end, where it arrived last.
  function Q.refresh(queue, deadlines, token, now, lifetime_us)
    local deadline = tonumber(redis.call('ZSCORE', deadlines, token))
    if not deadline or deadline <= now or not redis.call('ZSCORE', queue, token) then
      return false
    end
    redis.call('ZADD', deadlines, now + lifetime_us, token)
    return true
  end
  return Q
end
