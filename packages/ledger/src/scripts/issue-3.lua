-- Issues money into an account's ledger for one issuance of the bank (recorded first on the supply
-- stream, see record-issuance-2.lua): appends Issued once per issuance ID, forever, opening the
-- ledger first (AccountOpened v2) when it is not open. Preceded by ledger-checks.lua.
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance, seq)
-- KEYS[3]  the ledger's steps     microbank:ledger:{<account>}:steps (hash: step -> outcome)
-- ARGV[1]  the issuance ID
-- ARGV[2]  the account's name: the one in KEYS[1]
-- ARGV[3]  the amount, a whole number from 1 to 10^12
--
-- Returns: {"new" or "repeat", "issued <entry ID> <amount>"}, or {"changed", <first outcome>}
--   when the issuance was issued here with another amount (nothing appended, nothing kept).
local account = ledgerAccount()
local issuance = checkIssuance(ARGV[1])
if ARGV[2] ~= account then fail('the account is not the ledger\'s') end
local amount = checkAmount(ARGV[3])
local step = 'issue:' .. issuance
local prior = redis.call('HGET', KEYS[3], step)
if prior then
  if string.match(prior, ' (%d+)$') == ARGV[3] then return { 'repeat', prior } end
  return { 'changed', prior }
end
local state = ledgerState()
local balance = raised(state.balance, amount)
local opening
local seq = state.seq
if not state.opened then
  opening = checkSize('{"account":"' .. account .. '","seq":1}')
  seq = 1
end
seq = seq + 1
local data = checkSize('{"issuance":"' .. issuance .. '","amount":' .. ARGV[3] .. ',"seq":' .. digits(seq) .. '}')
if opening then redis.call('HSET', KEYS[2], 'opened', append('AccountOpened', '2', opening)) end
local outcome = 'issued ' .. append('Issued', '1', data) .. ' ' .. ARGV[3]
redis.call('HSET', KEYS[2], 'balance', digits(balance), 'seq', digits(seq))
redis.call('HSET', KEYS[3], step, outcome)
return { 'new', outcome }
