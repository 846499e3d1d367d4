-- Records a transfer request under its client's Idempotency-Key, once: the first request with a key
-- appends TransferRequested and a pending status; any later one with the same key gets the
-- transfer the key made (the caller compares fingerprints: the same request, or another body).
--
-- KEYS[1]  the transfers stream      microbank:{transfers}
-- KEYS[2]  the idempotency keys      microbank:{transfers}:keys (hash: <client>/<key> -> "<transfer> <fingerprint>")
-- KEYS[3]  the transfers' statuses   microbank:{transfers}:status (hash: transfer -> status JSON)
-- ARGV[1]  the client's Idempotency-Key, <client>/<key>
-- ARGV[2]  the request's fingerprint (sha256 of from, to, amount)
-- ARGV[3]  the new transfer's ID
-- ARGV[4]  the TransferRequested event's data, as JSON
-- ARGV[5]  the pending status, as JSON (the request's position is added here)
--
-- Returns: {"new", <transfer>, <entry ID>} or {"existing", <transfer>, <fingerprint>}.
local known = redis.call('HGET', KEYS[2], ARGV[1])
if known then
  local space = string.find(known, ' ', 1, true)
  return { 'existing', string.sub(known, 1, space - 1), string.sub(known, space + 1) }
end
local id = redis.call('XADD', KEYS[1], '*', 'type', 'TransferRequested', 'v', '1', 'data', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. ' ' .. ARGV[2])
local status = cjson.decode(ARGV[5])
status['position'] = id
redis.call('HSET', KEYS[3], ARGV[3], cjson.encode(status))
return { 'new', ARGV[3], id }
