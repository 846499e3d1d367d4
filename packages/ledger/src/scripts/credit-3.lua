-- Credits an account for a transfer whose debit was made. A transfer's credit is decided once,
-- forever: trying it again returns the first outcome and changes nothing; a refusal is kept too,
-- so a ledger opened later can never take a credit whose debit was already given back.
-- Preceded by ledger-checks.lua.
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance, seq)
-- KEYS[3]  the ledger's steps     microbank:ledger:{<account>}:steps (hash: step -> outcome)
-- ARGV[1]  the transfer ID, a UUID
-- ARGV[2]  the account the money comes from (not this one)
-- ARGV[3]  the amount, a whole number from 1 to 10^12
-- ARGV[4]  the debit's entry ID on the other account's ledger
-- ARGV[5]  the position of the transfer's request on the transfers stream: a step of a
--          transfer requested before the compaction point is refused (nothing written)
--
-- Returns: {"new" or "repeat", outcome}, the outcome "credited <entry ID>" or
--   "refused unknown-account" (the ledger was never opened: nothing appended), or "refused compacted"
--   (requested before the compaction point: nothing written, nothing kept).
local debit = checkEntryId(ARGV[4])
local step, decided = transferStep('credit', 'the account debited', 5)
if decided then return decided end
local transfer, from, amount = step.transfer, step.party, step.amount
return decideOnLedger(step, function(state)
  local balance = raised(state.balance, amount)
  local seq = digits(state.seq + 1)
  local data = checkSize('{"transfer":"' .. transfer .. '","from":"' .. from .. '","amount":' .. ARGV[3]
    .. ',"debit":"' .. debit .. '","seq":' .. seq .. '}')
  local outcome = 'credited ' .. append('Credited', '2', data)
  redis.call('HSET', KEYS[2], 'balance', digits(balance), 'seq', seq)
  return outcome
end)
