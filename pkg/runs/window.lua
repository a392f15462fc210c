-- window.lua: the rules of a job's run keys, compiled (after read.lua and
-- fence.lua) in front of every script of pkg/runs that writes them.
--
-- The keys of job J share the hash tag {J}, so they lie in one slot:
--   <prefix>:{J}:run:w:<window>  hash: the window's current attempt (the
--                                 fields of R.FIELDS)
--   <prefix>:{J}:run:fence       string: the last fence
--   <prefix>:{J}:run:records     hash: run_id -> record (JSON, strings only)
--   <prefix>:{J}:run:order       list: run_ids, newest first, at most keep
--   <prefix>:{J}:run:last        hash: success, failure -> record
-- Times are microseconds of Redis server TIME, as decimal strings; 0 is
-- none. Every key a script writes expires no sooner than grace after the
-- write, after its lease end and after the window's close, the hash of a
-- window that closes an hour at most after them (R.expire).
local R = {}

R.FIELDS = {'window', 'run_id', 'attempt', 'fence', 'identity', 'start_us',
  'end_us', 'until_us', 'status', 'lease_ms', 'closes_us'}
local NUMBERS = {attempt = true, fence = true, start_us = true, end_us = true,
  until_us = true, lease_ms = true, closes_us = true}
local STATUS = {running = true, succeeded = true, failed = true, lost = true}

-- R.now is Redis server TIME in microseconds.
function R.now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- R.arg reads ARGV[i] as a whole number of at most 2^53 - 1, or raises.
function R.arg(i, what)
  local n = F.exact(ARGV[i])
  if not n then
    error({err = 'ERR runs: ' .. what .. ' ' .. tostring(ARGV[i]) .. ' is not a whole number'})
  end
  return n
end

-- R.window reads the window hash: nil when it is absent, its fields (the
-- numbers as numbers) when it is baton's, or false and a foreign reply.
function R.window(key)
  local r, t = read('HMGET', key, unpack(R.FIELDS))
  if not r then return false, {'foreign', key, t} end
  local w, any = {}, false
  for i, f in ipairs(R.FIELDS) do
    local v = r[i]
    if v then any = true end
    if v and NUMBERS[f] then v = F.exact(v) end
    w[f] = v or nil
  end
  if not any then
    if redis.call('EXISTS', key) == 1 then
      return false, {'foreign', key, 'hash without baton fields'}
    end
    return nil
  end
  for _, f in ipairs(R.FIELDS) do
    if w[f] == nil then
      return false, {'foreign', key, 'hash that is not a run window (' .. f .. ')'}
    end
  end
  if not STATUS[w.status] or w.attempt < 1 then
    return false, {'foreign', key, 'hash that is not a run window'}
  end
  return w
end

-- R.check returns a foreign reply for the first job key that holds another
-- type than baton writes there, or nil. The fence is checked by F.last.
function R.check(records, order, last)
  for _, k in ipairs({{records, 'HLEN'}, {order, 'LLEN'}, {last, 'HLEN'}}) do
    local r, t = read(k[2], k[1])
    if r == nil then return {'foreign', k[1], t} end
  end
  return nil
end

-- R.record is w as the JSON record of its run: strings only, since cjson
-- writes numbers with 14 digits.
function R.record(w)
  local rec = {}
  for _, f in ipairs(R.FIELDS) do
    if f ~= 'closes_us' then
      local v = w[f]
      if NUMBERS[f] then v = F.fmt(v) end
      rec[f] = v
    end
  end
  return cjson.encode(rec)
end

-- R.save writes w to the window hash, and its record to the records hash
-- when the run is still recorded there (a trimmed run is not brought back).
function R.save(key, records, w, new)
  local args = {}
  for _, f in ipairs(R.FIELDS) do
    local v = w[f]
    if NUMBERS[f] then v = F.fmt(v) end
    args[#args + 1] = f
    args[#args + 1] = v
  end
  redis.call('HSET', key, unpack(args))
  if new or redis.call('HEXISTS', records, w.run_id) == 1 then
    redis.call('HSET', records, w.run_id, R.record(w))
  end
end

-- R.WINDOW_GRACE bounds the grace of a window hash whose window closes:
-- such a window is refused after its close ('closed') whether its hash
-- exists or not, so the hash need not live on for days, and a job of
-- short windows keeps an hour of them, not a week.
R.WINDOW_GRACE = 3600000

-- R.expire raises the TTL of each key to at least grace ms after now, after
-- w's lease end and after its window's close; keys[1], the window hash of
-- a window that closes, to R.WINDOW_GRACE at most after them.
function R.expire(keys, w, now, grace)
  local later = math.ceil(math.max(0, w.until_us - now, w.closes_us - now) / 1000)
  for i, key in ipairs(keys) do
    local ttl = grace + later
    if i == 1 and w.closes_us > 0 then ttl = math.min(grace, R.WINDOW_GRACE) + later end
    local p = redis.call('PTTL', key)
    if p ~= -2 and p < ttl then redis.call('PEXPIRE', key, ttl) end
  end
end
