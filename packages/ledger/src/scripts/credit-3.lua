-- Credits an account for a transfer whose debit was made. A transfer's credit is decided once,
-- forever: trying it again returns the first outcome and changes nothing; a refusal is kept too,
-- so a ledger opened later can never take a credit whose debit was already given back.
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance)
-- KEYS[3]  the ledger's steps     microbank:ledger:{<account>}:steps (hash: step -> outcome)
-- ARGV[1]  the transfer ID
-- ARGV[2]  the amount, a whole number >= 1
-- ARGV[3]  the Credited event's data, as JSON
--
-- Returns: {"new" or "repeat", outcome}, the outcome "credited <entry ID>" or
--   "refused unknown-account" (the ledger was never opened: nothing appended).
if not string.match(ARGV[2], '^[1-9]%d*$') then return redis.error_reply('ERR the amount must be a whole number >= 1') end
local step = 'credit:' .. ARGV[1]
local prior = redis.call('HGET', KEYS[3], step)
if prior then return { 'repeat', prior } end
local outcome
if redis.call('HEXISTS', KEYS[2], 'opened') == 0 then
  outcome = 'refused unknown-account'
else
  outcome = 'credited ' .. redis.call('XADD', KEYS[1], '*', 'type', 'Credited', 'v', '1', 'data', ARGV[3])
  redis.call('HINCRBY', KEYS[2], 'balance', tonumber(ARGV[2]))
end
redis.call('HSET', KEYS[3], step, outcome)
return { 'new', outcome }
