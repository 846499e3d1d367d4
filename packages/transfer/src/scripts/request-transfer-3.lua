-- Records a transfer request under its client's Idempotency-Key, once: the first request with a key
-- appends TransferRequested and a pending status; any later one with the same key gets the
-- transfer the key made (the caller compares fingerprints: the same request, or another body).
-- The key is kept for the retention; the pending status until the transfer settles.
--
-- KEYS[1]  the transfers stream      microbank:{transfers}
-- KEYS[2]  the client's key          microbank:{transfers}:key:<client>/<key> ("<transfer> <fingerprint>")
-- KEYS[3]  the new transfer's status microbank:{transfers}:status:<transfer> (status JSON)
-- ARGV[1]  the request's fingerprint (sha256 of from, to, amount)
-- ARGV[2]  the new transfer's ID
-- ARGV[3]  the TransferRequested event's data, as JSON
-- ARGV[4]  the pending status, as JSON (the request's position is added here)
-- ARGV[5]  the retention, in milliseconds: how long the key is kept
--
-- Returns: {"new", <transfer>, <entry ID>} or {"existing", <transfer>, <fingerprint>}.
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
return { 'new', ARGV[2], id }
