-- Opens an account's ledger with its opening balance: the first event of the ledger, appended
-- once per account however often the account starts (a second call returns the first outcome).
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance)
-- ARGV[1]  the opening balance, a whole number
-- ARGV[2]  the AccountOpened event's data, as JSON
--
-- Returns: {"opened", <entry ID>} or {"repeat", <entry ID of the opening>}.
local opened = redis.call('HGET', KEYS[2], 'opened')
if opened then return { 'repeat', opened } end
local id = redis.call('XADD', KEYS[1], '*', 'type', 'AccountOpened', 'v', '1', 'data', ARGV[2])
redis.call('HSET', KEYS[2], 'opened', id, 'balance', ARGV[1])
return { 'opened', id }
