-- Debits an account for a transfer, only if that leaves its balance at 0 or more. A transfer's
-- debit is decided once, forever: trying it again returns the first outcome and changes nothing.
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance)
-- KEYS[3]  the ledger's steps     microbank:ledger:{<account>}:steps (hash: step -> outcome)
-- ARGV[1]  the transfer ID
-- ARGV[2]  the amount, a whole number >= 1
-- ARGV[3]  the Debited event's data, as JSON
-- ARGV[4]  the DebitDeclined event's data, as JSON
--
-- Returns: {"new" or "repeat", outcome}, the outcome one of
--   "debited <entry ID> <amount>", "declined <entry ID>" (insufficient funds), "refused unknown-account"
--   (the ledger was never opened: nothing appended, the refusal kept all the same).
if not string.match(ARGV[2], '^[1-9]%d*$') then return redis.error_reply('ERR the amount must be a whole number >= 1') end
local step = 'debit:' .. ARGV[1]
local prior = redis.call('HGET', KEYS[3], step)
if prior then return { 'repeat', prior } end
local outcome
if redis.call('HEXISTS', KEYS[2], 'opened') == 0 then
  outcome = 'refused unknown-account'
elseif tonumber(redis.call('HGET', KEYS[2], 'balance')) < tonumber(ARGV[2]) then
  outcome = 'declined ' .. redis.call('XADD', KEYS[1], '*', 'type', 'DebitDeclined', 'v', '1', 'data', ARGV[4])
else
  local id = redis.call('XADD', KEYS[1], '*', 'type', 'Debited', 'v', '1', 'data', ARGV[3])
  outcome = 'debited ' .. id .. ' ' .. ARGV[2]
  redis.call('HINCRBY', KEYS[2], 'balance', -tonumber(ARGV[2]))
end
redis.call('HSET', KEYS[3], step, outcome)
return { 'new', outcome }
