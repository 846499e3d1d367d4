-- Gives back a transfer's debit whose credit could not be made. Only a debit that was made can be
-- refunded, and only once, forever.
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance)
-- KEYS[3]  the ledger's steps     microbank:ledger:{<account>}:steps (hash: step -> outcome)
-- ARGV[1]  the transfer ID
-- ARGV[2]  the amount, a whole number >= 1: the debit's own
-- ARGV[3]  the Refunded event's data, as JSON
--
-- Returns: {"new" or "repeat", "refunded <entry ID>"}, or {"new", "refused no-debit"} when this
--   ledger holds no debit for the transfer, or {"new", "refused amount-mismatch"} when the debit
--   was of another amount (nothing appended, nothing kept, either way).
if not string.match(ARGV[2], '^[1-9]%d*$') then return redis.error_reply('ERR the amount must be a whole number >= 1') end
local step = 'refund:' .. ARGV[1]
local prior = redis.call('HGET', KEYS[3], step)
if prior then return { 'repeat', prior } end
local debit = redis.call('HGET', KEYS[3], 'debit:' .. ARGV[1])
if not debit or string.sub(debit, 1, 8) ~= 'debited ' then return { 'new', 'refused no-debit' } end
if string.match(debit, '(%d+)$') ~= ARGV[2] then return { 'new', 'refused amount-mismatch' } end
local outcome = 'refunded ' .. redis.call('XADD', KEYS[1], '*', 'type', 'Refunded', 'v', '1', 'data', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'balance', tonumber(ARGV[2]))
redis.call('HSET', KEYS[3], step, outcome)
return { 'new', outcome }
