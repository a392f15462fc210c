-- read.lua: one typed read, for the scripts whose hot path reads keys that
-- a foreign value could occupy. The Go side compiles it in front of them.
--
-- read runs the read command cmd on key and returns its reply (false or
-- empty fields for a missing key, as the command gives them); or nil and
-- the key's type when key holds another type than cmd reads. One call
-- where TYPE and the read would be two: a redis.call costs more than the
-- Lua around it, and TYPE runs only for the foreign value. Any other error
-- (an ACL refusal) is raised as redis.call would raise it.
local function read(cmd, key, ...)
  local r = redis.pcall(cmd, key, ...)
  if type(r) == 'table' and r.err then
    if string.sub(r.err, 1, 9) == 'WRONGTYPE' then
      return nil, redis.call('TYPE', key)['ok']
    end
    error(r)
  end
  return r
end
