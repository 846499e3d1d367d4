-- Debits an account for a transfer, only if that leaves its balance at 0 or more. A transfer's
-- debit is decided once, forever: trying it again returns the first outcome and changes nothing.
-- Preceded by ledger-checks.lua.
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance, seq)
-- KEYS[3]  the ledger's steps     microbank:ledger:{<account>}:steps (hash: step -> outcome)
-- ARGV[1]  the transfer ID, a UUID
-- ARGV[2]  the account the money goes to (not this one)
-- ARGV[3]  the amount, a whole number from 1 to 10^12
-- ARGV[4]  the position of the transfer's request on the transfers stream: a step of a
--          transfer requested before the compaction point is refused (nothing written)
--
-- Returns: {"new" or "repeat", outcome}, the outcome one of "debited <entry ID> <amount>",
--   "declined <entry ID>" (insufficient funds: DebitDeclined appended), "refused unknown-account"
--   (the ledger was never opened: nothing appended, the refusal kept all the same), "refused compacted"
--   (requested before the compaction point: nothing written, nothing kept).
local step, decided = transferStep('debit', 'the account credited', 4)
if decided then return decided end
local transfer, to, amount = step.transfer, step.party, step.amount
return decideOnLedger(step, function(state)
  local seq = digits(state.seq + 1)
  local head = '{"transfer":"' .. transfer .. '","to":"' .. to .. '","amount":' .. ARGV[3]
  if state.balance < amount then
    local data = checkSize(head .. ',"reason":"insufficient-funds","seq":' .. seq .. '}')
    local outcome = 'declined ' .. append('DebitDeclined', '2', data)
    redis.call('HSET', KEYS[2], 'seq', seq)
    return outcome
  end
  local data = checkSize(head .. ',"seq":' .. seq .. '}')
  local outcome = 'debited ' .. append('Debited', '2', data) .. ' ' .. ARGV[3]
  redis.call('HSET', KEYS[2], 'balance', digits(state.balance - amount), 'seq', seq)
  return outcome
end)
