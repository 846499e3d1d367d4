-- What every ledger script checks before its first write, prepended to each of them by
-- ledger-steps.ts (so these are locals of the script). Nothing is trusted: not the caller's
-- arguments, not the keys it names, not what the ledger's state hash holds. A script calls these
-- first, computes every value it will write, and only then writes; so a script that fails has
-- written nothing, and one that writes cannot fail afterwards (the hashes it writes were read
-- already, which would have failed on a wrong type).
--
-- The event data is built here from checked parts, in the key order of the zod schemas
-- (packages/events/src/ledger-events.ts), exactly as JSON.stringify writes it: no part needs
-- escaping. ledger-steps.test.ts holds every appended entry equal to encodeEvent of its decoding.

local function fail(message)
  error({ err = 'ERR ' .. message })
end

-- MAX_AMOUNT of ledger-events.ts; a balance and a seq stay below 2^53, exact as a double and in JSON.
local MAX_AMOUNT = 1000000000000
local MAX_WHOLE = 9007199254740991
-- Far above any event this script writes, below the ledger catalog's 2 KiB per entry.
local MAX_DATA_BYTES = 1024

local function digits(n)
  return string.format('%.0f', n)
end

-- A whole number from 1 to MAX_AMOUNT written as JSON writes it: no sign, no leading zero, no exponent.
local function checkAmount(text)
  if #text > 13 or not string.match(text, '^[1-9]%d*$') or tonumber(text) > MAX_AMOUNT then
    fail('the amount must be a whole number from 1 to 10^12, got "' .. string.sub(text, 1, 20) .. '"')
  end
  return tonumber(text)
end

-- A UUID as zod's z.uuid() accepts it (version 1-8, variant 8-b; or the nil and max UUIDs).
local H4 = '%x%x%x%x'
local UUID = '^' .. H4 .. H4 .. '%-' .. H4 .. '%-[1-8]%x%x%x%-[89abAB]%x%x%x%-' .. H4 .. H4 .. H4 .. '$'
local function checkTransfer(id)
  if not (string.match(id, UUID) or id == '00000000-0000-0000-0000-000000000000'
      or id == 'ffffffff-ffff-ffff-ffff-ffffffffffff') then
    fail('the transfer ID must be a UUID')
  end
  return id
end

-- An account's name: a DNS label (ACCOUNT_NAME_PATTERN of account-events.ts).
local function isAccount(name)
  return #name >= 1 and #name <= 63
    and (string.match(name, '^[a-z0-9]$') or string.match(name, '^[a-z0-9][a-z0-9%-]*[a-z0-9]$')) ~= nil
end
local function checkAccount(name, what)
  if not isAccount(name) then fail(what .. ' must be an account name (a DNS label)') end
  return name
end

-- An issuance's ID (issuanceId of ledger-events.ts): 1 to 80 of A-Z a-z 0-9 . _ : -
local function checkIssuance(id)
  if #id < 1 or #id > 80 or not string.match(id, '^[A-Za-z0-9%._:%-]+$') then
    fail('the issuance ID must be 1 to 80 of A-Z, a-z, 0-9 and "._:-"')
  end
  return id
end

-- A stream entry's ID, as a Credited names its debit.
local function checkEntryId(id)
  if #id > 41 or not string.match(id, '^%d+%-%d+$') then fail('the debit must be a stream entry ID') end
  return id
end

-- The position of a transfer's request on the transfers stream ('' when the caller gave none).
local function checkRequest(id)
  if id ~= '' and (#id > 41 or not string.match(id, '^%d+%-%d+$')) then
    fail('the request position must be a stream entry ID')
  end
  return id
end

-- Whether a step of the transfer requested at `request` is behind the compaction point: the
-- transfers-stream position recorded in the steps hash (field 'compacted-before') by the last
-- compaction, which removed the steps of transfers requested and settled before it. Such a step is
-- refused by its position, whatever the time: its record may be gone, so it could pay twice. A
-- step without a request position counts as behind once there is a compaction point.
local function behindCompaction(request)
  local point = redis.call('HGET', KEYS[3], 'compacted-before')
  if not point then return false end
  if request == '' then return true end
  local pms, pseq = string.match(point, '^(%d+)%-(%d+)$')
  if not pms then fail('the steps\' compacted-before is not an entry ID') end
  local rms, rseq = string.match(request, '^(%d+)%-(%d+)$')
  pms, pseq, rms, rseq = tonumber(pms), tonumber(pseq), tonumber(rms), tonumber(rseq)
  return rms < pms or (rms == pms and rseq < pseq)
end

-- The ledger's account, read from its keys, which must be one ledger's stream, state and steps.
local function ledgerAccount()
  local account = string.match(KEYS[1], ':ledger:{([^{}]*)}$')
  if not account or not isAccount(account) then fail('KEYS[1] is not an account ledger stream') end
  if KEYS[2] ~= KEYS[1] .. ':state' or (#KEYS > 2 and KEYS[3] ~= KEYS[1] .. ':steps') then
    fail('the keys are not the ledger stream, state and steps of one account')
  end
  return account
end

-- The ledger's state, checked: { opened = the opening's entry ID (nil: never opened), balance, seq }.
-- A ledger opened before entries were numbered has no seq yet: its entries so far count as 1..n.
local function ledgerState()
  local row = redis.call('HMGET', KEYS[2], 'opened', 'balance', 'seq')
  local opened, balance, seq = row[1], row[2], row[3]
  if not opened then
    if balance or seq or redis.call('EXISTS', KEYS[1]) == 1 then
      fail('the ledger was never opened, yet it has a balance, a seq or a stream')
    end
    return { balance = 0, seq = 0 }
  end
  if not string.match(opened, '^%d+%-%d+$') then fail('the ledger state\'s "opened" is not an entry ID') end
  if not balance or #balance > 16 or not string.match(balance, '^%d+$') or (#balance > 1 and string.sub(balance, 1, 1) == '0')
      or tonumber(balance) > MAX_WHOLE then
    fail('the ledger state\'s balance is not a whole number from 0 to 2^53 - 1')
  end
  if seq then
    if #seq > 16 or not string.match(seq, '^[1-9]%d*$') or tonumber(seq) > MAX_WHOLE then
      fail('the ledger state\'s seq is not a whole number from 1 to 2^53 - 1')
    end
    seq = tonumber(seq)
  else
    seq = redis.call('XLEN', KEYS[1])
  end
  return { opened = opened, balance = tonumber(balance), seq = seq }
end

-- What every step of a transfer on this ledger (debit, credit, refund) opens with. It checks the
-- arguments they share: ARGV[1] the transfer, ARGV[2] the other account (`other` says which one,
-- for the error), ARGV[3] the amount, and the request's position at ARGV[`requestAt`]. Returns the
-- checked step, and a reply when it is decided already: the first outcome of a step made before
-- ({"repeat", outcome}), or a refusal of a transfer requested before the compaction point.
local function transferStep(kind, other, requestAt)
  local account = ledgerAccount()
  local transfer = checkTransfer(ARGV[1])
  local party = checkAccount(ARGV[2], other)
  if party == account then fail('a transfer cannot debit and credit the same account') end
  local step = {
    transfer = transfer,
    party = party,
    amount = checkAmount(ARGV[3]),
    name = kind .. ':' .. transfer,
  }
  local request = checkRequest(ARGV[requestAt])
  local prior = redis.call('HGET', KEYS[3], step.name)
  if prior then return step, { 'repeat', prior } end
  if behindCompaction(request) then return step, { 'new', 'refused compacted' } end
  return step, nil
end

-- The balance after adding `amount`, refused when it would pass 2^53 - 1.
local function raised(balance, amount)
  if balance + amount > MAX_WHOLE then fail('the balance would pass 2^53 - 1') end
  return balance + amount
end

local function checkSize(data)
  if #data > MAX_DATA_BYTES then fail('the event data is over ' .. MAX_DATA_BYTES .. ' bytes') end
  return data
end

-- Appends one checked event; the state's seq is set by the caller together with its balance.
local function append(type, version, data)
  return redis.call('XADD', KEYS[1], '*', 'type', type, 'v', version, 'data', data)
end

-- Decides a debit or a credit, once: on a ledger never opened it is refused ("refused
-- unknown-account", nothing appended, the refusal kept all the same, so a ledger opened later
-- never takes it); on an opened one `onOpened(state)` checks, appends and returns the outcome.
-- The outcome is kept in the steps hash; returns the script's reply {"new", outcome}.
local function decideOnLedger(step, onOpened)
  local state = ledgerState()
  local outcome = 'refused unknown-account'
  if state.opened then outcome = onOpened(state) end
  redis.call('HSET', KEYS[3], step.name, outcome)
  return { 'new', outcome }
end
