-- Gives back a transfer's debit whose credit could not be made. Only a debit that was made can be
-- refunded, of its own amount, and only once, forever. Preceded by ledger-checks.lua.
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance, seq)
-- KEYS[3]  the ledger's steps     microbank:ledger:{<account>}:steps (hash: step -> outcome)
-- ARGV[1]  the transfer ID, a UUID
-- ARGV[2]  the account the refused credit was for (not this one)
-- ARGV[3]  the amount, a whole number from 1 to 10^12: the debit's own
-- ARGV[4]  the position of the transfer's request on the transfers stream: a step of a
--          transfer requested before the compaction point is refused (nothing written)
--
-- Returns: {"new" or "repeat", "refunded <entry ID>"}, or {"new", "refused no-debit"} when this
--   ledger holds no debit for the transfer, or {"new", "refused amount-mismatch"} when the debit
--   was of another amount, or {"new", "refused compacted"} when it was requested before the
--   compaction point (nothing appended, nothing kept, in each case).
local step, decided = transferStep('refund', 'the account credited', 4)
if decided then return decided end
local transfer, to, amount = step.transfer, step.party, step.amount
local debit = redis.call('HGET', KEYS[3], 'debit:' .. transfer)
if not debit or string.sub(debit, 1, 8) ~= 'debited ' then return { 'new', 'refused no-debit' } end
if string.match(debit, ' (%d+)$') ~= ARGV[3] then return { 'new', 'refused amount-mismatch' } end
local state = ledgerState()
if not state.opened then fail('the ledger holds a debit but was never opened') end
local balance = raised(state.balance, amount)
local seq = digits(state.seq + 1)
local data = checkSize('{"transfer":"' .. transfer .. '","to":"' .. to .. '","amount":' .. ARGV[3]
  .. ',"reason":"unknown-account","seq":' .. seq .. '}')
local outcome = 'refunded ' .. append('Refunded', '2', data)
redis.call('HSET', KEYS[2], 'balance', digits(balance), 'seq', seq)
redis.call('HSET', KEYS[3], step.name, outcome)
return { 'new', outcome }
