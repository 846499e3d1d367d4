-- Records one issuance of the bank on the supply stream: SupplyIssued, once per issuance ID,
-- forever. The same issuance again (same account, same amount) is a repeat; with another account
-- or amount it is refused: an issuance is never changed. Preceded by ledger-checks.lua.
--
-- KEYS[1]  the supply stream      microbank:{supply}
-- KEYS[2]  the issuances          microbank:{supply}:issuances (hash: issuance ID -> "<account> <amount> <entry ID>")
-- ARGV[1]  the issuance ID
-- ARGV[2]  the account issued to
-- ARGV[3]  the amount, a whole number from 1 to 10^12
--
-- Returns: {"new" or "repeat", <entry ID of the SupplyIssued>}, or {"changed", "<account> <amount> <entry ID>"}
--   when the issuance was recorded with another account or amount (nothing appended).
if not string.match(KEYS[1], '{supply}$') or KEYS[2] ~= KEYS[1] .. ':issuances' then
  fail('the keys are not the supply stream and its issuances')
end
local issuance = checkIssuance(ARGV[1])
local account = checkAccount(ARGV[2], 'the account')
checkAmount(ARGV[3])
local prior = redis.call('HGET', KEYS[2], issuance)
if prior then
  local was, amount, id = string.match(prior, '^(%S+) (%S+) (%S+)$')
  if was == account and amount == ARGV[3] then return { 'repeat', id } end
  return { 'changed', prior }
end
local data = checkSize('{"issuance":"' .. issuance .. '","account":"' .. account .. '","amount":' .. ARGV[3] .. '}')
local id = append('SupplyIssued', '1', data)
redis.call('HSET', KEYS[2], issuance, account .. ' ' .. ARGV[3] .. ' ' .. id)
return { 'new', id }
