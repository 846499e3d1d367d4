-- Records how a transfer ended, once: TransferCompleted or TransferRejected on the transfers
-- stream and the final status. A transfer already settled is left as it is (its first outcome
-- stands), which is what makes a processor that repeats the saga harmless.
--
-- KEYS[1]  the transfers stream      microbank:{transfers}
-- KEYS[2]  the transfers' statuses   microbank:{transfers}:status (hash: transfer -> status JSON)
-- ARGV[1]  the transfer ID
-- ARGV[2]  the event type: TransferCompleted or TransferRejected
-- ARGV[3]  the event's data, as JSON
-- ARGV[4]  the final status, as JSON (the settlement's position is added here)
--
-- Returns: {"new", <entry ID>} or {"repeat", <status JSON as it stands>}.
if ARGV[2] ~= 'TransferCompleted' and ARGV[2] ~= 'TransferRejected' then
  return redis.error_reply('ERR a transfer is settled by TransferCompleted or TransferRejected')
end
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if prior and cjson.decode(prior)['status'] ~= 'pending' then return { 'repeat', prior } end
local id = redis.call('XADD', KEYS[1], '*', 'type', ARGV[2], 'v', '1', 'data', ARGV[3])
local status = cjson.decode(ARGV[4])
status['settled'] = id
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(status))
return { 'new', id }
