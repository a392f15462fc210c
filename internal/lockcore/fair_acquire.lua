-- fair_acquire.lua: one try of a fair (FIFO) waiter. The Go side runs it
-- as queue.lua, then acquire.lua wrapped as the function acquire_lease,
-- then this file: the lease's own rules stay in acquire.lua.
--
-- KEYS[1..3] as acquire.lua (lease, fence counter, term record)
-- KEYS[4] queue, KEYS[5] deadlines (see queue.lua; all in one hash slot)
-- ARGV[1..7] as acquire.lua (token, identity, TTL ms, release channel, seen,
-- seen lease time, key rules)
-- ARGV[8] wake channel prefix, ARGV[9] entry lifetime in ms (3 heartbeats),
-- ARGV[10] '1' to enqueue (or refresh) the caller when it may not take the
-- lease now, '0' for a single try that leaves no entry, 'j' for a plain
-- waiter's try: acquire.lua's alone while the lock has no queue, '1' once
-- it has one (the waiter joins it: releases wake only the queue's head)
--
-- Replies: those of acquire.lua, except that 'held' has two more elements,
-- unless a 'j' try did not join a queue:
--   {'held', holder, fence, pttl, ahead, head_ms}
-- ahead is the number of live entries before the caller's, and head_ms how
-- long the head's entry lives unless refreshed (-1 when the caller is the
-- head or there is none). holder '' with pttl 0 means the lease is free but
-- it is another waiter's turn.
--
-- The caller may take the lease only when the queue is empty or its own
-- entry is the head; the lease is then taken by acquire.lua's rules and the
-- entry removed. Dead entries are pruned first, whatever the reply. When
-- that removes the head while the lease is free, the new head is woken:
-- nobody else would tell it.
local lease, counter, term = KEYS[1], KEYS[2], KEYS[3]
local queue, deadlines = KEYS[4], KEYS[5]
local token, wake_prefix = ARGV[1], ARGV[8]
local lifetime_ms = tonumber(ARGV[9])
local enqueue, join = ARGV[10] == '1', ARGV[10] == 'j'

if not lifetime_ms or lifetime_ms < 1 or lifetime_ms ~= math.floor(lifetime_ms) then
  return {'invalid', 'queue entry lifetime ' .. tostring(ARGV[9]) .. ' is not a whole number of milliseconds'}
end
-- A waiter that cannot hear its wake-up, or could not wake the next one,
-- must not queue: see acquire.lua for the release channel's check.
local own = wake_prefix .. token
local function denied()
  if redis.acl_check_cmd then
    if not redis.acl_check_cmd('SUBSCRIBE', own) then return {'denied', 'SUBSCRIBE', own} end
    if not redis.acl_check_cmd('PUBLISH', own, '') then return {'denied', 'PUBLISH', own} end
  end
  return nil
end
if not join then
  local bad = denied()
  if bad then return bad end
end
-- fresh_queue is called when the caller's entry starts a queue: plain
-- waiters, who listen on the release channel, must try again and join it,
-- since releases now wake only its head. acquire.lua has checked that the
-- caller may PUBLISH there.
local function fresh_queue()
  redis.call('PUBLISH', ARGV[4], '')
end
-- No queue at all (the uncontended case): it is nobody's turn but the
-- caller's, and there is nothing to check or prune.
-- The queue's rules are built only after that case (see queue.lua).
if redis.call('EXISTS', queue, deadlines) == 0 then
  local r = acquire_lease()
  if r[1] ~= 'held' or join then return r end
  if enqueue then
    local Q = queue_rules()
    Q.enqueue(queue, deadlines, token, Q.now_us(), lifetime_ms * 1000)
    fresh_queue()
  end
  return {'held', r[2], r[3], r[4], 0, -1}
end
-- A plain waiter joins the queue, unless it could not hear its wake-up
-- there: then it stays a plain waiter.
if join then
  if denied() then return acquire_lease() end
  enqueue = true
end
local Q = queue_rules()
local bad = Q.check(queue, deadlines)
if bad then return bad end

local now = Q.now_us()
local pruned = Q.prune(queue, deadlines, now)
local head = Q.at(queue, 0)
if not head or head == token then
  local r = acquire_lease()
  if r[1] == 'ok' then
    Q.remove(queue, deadlines, token)
    return r
  end
  if r[1] ~= 'held' then return r end
  -- Every entry was dead: a plain waiter does not start a queue.
  if join and not head then return r end
  if enqueue then
    Q.enqueue(queue, deadlines, token, now, lifetime_ms * 1000)
    if not head then fresh_queue() end
  end
  return {'held', r[2], r[3], r[4], 0, -1}
end

-- Another waiter's turn.
local view = Q.lease_view(lease, counter, term, now)
if view[1] == 'foreign' then return view end
local ahead
if enqueue then
  ahead = Q.enqueue(queue, deadlines, token, now, lifetime_ms * 1000)
else
  ahead = Q.rank(queue, token)
end
if pruned == 0 and view[1] == 'free' then
  Q.wake(queue, wake_prefix, 0, token, view[3])
end
return {'held', view[2], view[3], view[4], ahead, Q.remaining_ms(queue, deadlines, 0, now)}
