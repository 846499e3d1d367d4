-- Records how a transfer ended, once: TransferCompleted or TransferRejected on the transfers
-- stream and the final status, kept for the retention from then on. A transfer already settled is
-- left as it is (its first outcome stands), which is what makes a processor that repeats the saga
-- harmless. Everything is checked and decoded before the first write.
--
-- KEYS[1]  the transfers stream      microbank:{transfers}
-- KEYS[2]  the transfer's status     microbank:{transfers}:status:<transfer> (status JSON)
-- ARGV[1]  the event type: TransferCompleted or TransferRejected
-- ARGV[2]  the event's data, as JSON
-- ARGV[3]  the final status, as JSON (the settlement's position is added here)
-- ARGV[4]  the retention, in milliseconds: how long the settled status is kept
--
-- Returns: {"new", <entry ID>} or {"repeat", <status JSON as it stands>}.
if ARGV[1] ~= 'TransferCompleted' and ARGV[1] ~= 'TransferRejected' then
  return redis.error_reply('ERR a transfer is settled by TransferCompleted or TransferRejected')
end
if not string.match(ARGV[4], '^[1-9]%d*$') then return redis.error_reply('ERR the retention must be a whole number of ms') end
local prior = redis.call('GET', KEYS[2])
if prior and cjson.decode(prior)['status'] ~= 'pending' then return { 'repeat', prior } end
local status = cjson.decode(ARGV[3])
local id = redis.call('XADD', KEYS[1], '*', 'type', ARGV[1], 'v', '1', 'data', ARGV[2])
status['settled'] = id
redis.call('SET', KEYS[2], cjson.encode(status), 'PX', ARGV[4])
return { 'new', id }
