-- fence.lua: fencing tokens, for the lock's and the semaphore's scripts,
-- which the Go side compiles with this file in front:
-- a fence is a decimal string of at most 2^53 - 1, the integers a Lua
-- double holds exactly, checked on its digits before any arithmetic, and
-- the next fence is max(counter + 1, seen + 1, server time in
-- microseconds), so that it grows from permit to permit and keeps growing
-- after the counter is lost.
local F = {}
F.MAX = '9007199254740991'

function F.exact(s)
  if type(s) ~= 'string' then return nil end
  local digits = string.match(s, '^0*(%d+)$')
  if not digits or #digits > #F.MAX or (#digits == #F.MAX and digits > F.MAX) then
    return nil
  end
  return tonumber(digits)
end

function F.fmt(n) return string.format('%d', n) end -- tostring would use exponents

-- F.last reads the counter: its value (0 when absent), or nil and a
-- foreign reply. read.lua must come first.
function F.last(counter)
  local raw, ctype = read('GET', counter)
  if raw == nil then return nil, {'foreign', counter, ctype} end
  if not raw then return 0 end
  local last = F.exact(raw)
  if not last then
    if string.match(raw, '^%d+$') then
      return nil, {'foreign', counter, 'fence above 2^53-1, which Lua cannot count exactly'}
    end
    return nil, {'foreign', counter, 'string that is not a fence'}
  end
  return last
end

-- F.next is the next fence after last, or nil and a foreign reply at 2^53-1.
function F.next(counter, last, seen, now)
  local n = math.max(last + 1, seen + 1, now)
  if n > tonumber(F.MAX) then
    return nil, {'foreign', counter, 'fence counter at 2^53-1: no exact next fence'}
  end
  return n
end
