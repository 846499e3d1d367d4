-- Records a transfer request under its client's Idempotency-Key, once: the first request with a key
-- appends TransferRequested and a pending status; any later one with the same key gets the
-- transfer the key made (the caller compares fingerprints: the same request, or another body).
-- The key is kept for the retention; the pending status until the transfer settles. Given a
-- consumer of a group, the script then reads one entry for it as XREADGROUP would (the group's
-- oldest undelivered: the request just made when every entry before it was read, else an older
-- one), so that the replica that took the request handles it without waiting for a read; without
-- the group (not made yet) it reads none.
--
-- KEYS[1]  the transfers stream      microbank:{transfers}
-- KEYS[2]  the client's key          microbank:{transfers}:key:<client>/<key> ("<transfer> <fingerprint>")
-- KEYS[3]  the new transfer's status microbank:{transfers}:status:<transfer> (status JSON)
-- ARGV[1]  the request's fingerprint (sha256 of from, to, amount)
-- ARGV[2]  the new transfer's ID
-- ARGV[3]  the TransferRequested event's data, as JSON
-- ARGV[4]  the pending status, as JSON (the request's position is added here)
-- ARGV[5]  the retention, in milliseconds: how long the key is kept
-- ARGV[6]  optional: the consumer group of the transfers stream to read one new entry in (processors)
-- ARGV[7]  with ARGV[6]: the consumer it is delivered to
--
-- Returns: {"new", <transfer>, <entry ID>} or, with an entry delivered,
-- {"new", <transfer>, <entry ID>, <delivered entry's ID>, <its fields>}; or
-- {"existing", <transfer>, <fingerprint>}.
if not string.match(ARGV[5], '^[1-9]%d*$') then return redis.error_reply('ERR the retention must be a whole number of ms') end
local known = redis.call('GET', KEYS[2])
if known then
  local space = string.find(known, ' ', 1, true)
  return { 'existing', string.sub(known, 1, space - 1), string.sub(known, space + 1) }
end
local status = cjson.decode(ARGV[4])
local id = redis.call('XADD', KEYS[1], '*', 'type', 'TransferRequested', 'v', '1', 'data', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2] .. ' ' .. ARGV[1], 'PX', ARGV[5])
status['position'] = id
redis.call('SET', KEYS[3], cjson.encode(status))
if ARGV[6] then
  -- Last: the request stands whatever this read does; a missing group is an error reply, a nil one false.
  local read = redis.pcall('XREADGROUP', 'GROUP', ARGV[6], ARGV[7], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
  local entry = type(read) == 'table' and read[1] and read[1][2][1]
  if entry then return { 'new', ARGV[2], id, entry[1], entry[2] } end
end
return { 'new', ARGV[2], id }
