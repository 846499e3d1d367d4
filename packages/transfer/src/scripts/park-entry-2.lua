-- Parks a transfers-stream entry whose saga keeps failing: records it on the parked stream, then
-- acknowledges it, in one step, so that it is never both forgotten and unrecorded. Only the consumer
-- that holds the entry parks it, once: an entry no longer among the group's pending entries (settled, parked already) or taken
-- over by another consumer since is left as it is, which makes parking twice harmless.
--
-- KEYS[1]  the transfers stream      microbank:{transfers}
-- KEYS[2]  the parked stream         microbank:{transfers}:parked
-- ARGV[1]  the consumer group        processors
-- ARGV[2]  the consumer parking it (it must hold the entry)
-- ARGV[3]  the entry ID on the transfers stream
-- ARGV[4]  the TransferParked event's data, as JSON
--
-- Returns: {"parked", <parked entry ID>} or {"not-held", ""} (not pending with this consumer:
--   nothing appended, nothing acknowledged).
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return { 'not-held', '' } end
local id = redis.call('XADD', KEYS[2], '*', 'type', 'TransferParked', 'v', '1', 'data', ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return { 'parked', id }
