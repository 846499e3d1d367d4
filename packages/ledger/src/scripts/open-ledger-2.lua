-- Opens an account's ledger: its first event, AccountOpened v2 (seq 1, no money: money enters a
-- ledger only as Issued, see issue-3.lua), appended once per account however often the account
-- starts (a second call returns the first outcome). Preceded by ledger-checks.lua.
--
-- KEYS[1]  the ledger stream      microbank:ledger:{<account>}
-- KEYS[2]  the ledger's state     microbank:ledger:{<account>}:state (hash: opened, balance, seq)
-- ARGV[1]  the account's name: the one in KEYS[1]
--
-- Returns: {"opened", <entry ID>} or {"repeat", <entry ID of the opening>}.
local account = ledgerAccount()
if ARGV[1] ~= account then fail('the account is not the ledger\'s') end
local state = ledgerState()
if state.opened then return { 'repeat', state.opened } end
local data = checkSize('{"account":"' .. account .. '","seq":1}')
local id = append('AccountOpened', '2', data)
redis.call('HSET', KEYS[2], 'opened', id, 'balance', '0', 'seq', '1')
return { 'opened', id }
