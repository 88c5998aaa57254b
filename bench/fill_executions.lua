-- Loads ARGV[4] copies of one stored execution (ARGV[2], its hash key) as finished executions, numbered from
-- ARGV[3], writing exactly what the create and transition scripts write for an execution that ended in
-- `succeeded` (packs/executions/src/store.cpp): the record, and its entries in the indexes `executions`,
-- `executions:action:<ref>`, `executions:status:succeeded`, `executions:action:<ref>:status:succeeded` and
-- `executions:user:<user>`. Copies get their own id, creation time (created_us = the index score) and one of
-- ARGV[6] users (`user`, `context.user`). Used by bench/executions_list.sh, 10,000 per call.
-- ARGV: 1 tagged key prefix, 2 template hash key, 3 first number, 4 count, 5 base score (µs), 6 users,
--       7 action ref
local p, tmpl = ARGV[1], redis.call('HGETALL', ARGV[2])
local first, n, base, users, action = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]),
  ARGV[7]
for k = first, first + n - 1 do
  local id = string.format('bench%019d', k)
  local user = 'user' .. (k % users)
  local score = base + k
  local fields = {}
  for j = 1, #tmpl, 2 do
    local f, v = tmpl[j], tmpl[j + 1]
    if f == 'id' then v = id
    elseif f == 'user' then v = user
    elseif f == 'created_us' then v = tostring(score)
    elseif f == 'context' then v = string.gsub(v, '"user":"[^"]*"', '"user":"' .. user .. '"', 1)
    end
    fields[#fields + 1] = f
    fields[#fields + 1] = v
  end
  redis.call('HSET', p .. 'exec:' .. id, unpack(fields))
  redis.call('ZADD', p .. 'executions', score, id)
  redis.call('ZADD', p .. 'executions:action:' .. action, score, id)
  redis.call('ZADD', p .. 'executions:status:succeeded', score, id)
  redis.call('ZADD', p .. 'executions:action:' .. action .. ':status:succeeded', score, id)
  redis.call('ZADD', p .. 'executions:user:' .. user, score, id)
end
return n
