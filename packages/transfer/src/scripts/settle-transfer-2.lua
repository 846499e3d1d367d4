-- Records how a transfer ended, once: TransferCompleted or TransferRejected on the transfers
-- stream and the final status, kept for the retention from then on. A transfer already settled is
-- left as it is (its first outcome stands), which is what makes a processor that repeats the saga
-- harmless. With a group and an entry, the request's entry is acknowledged in that group in the same
-- write, settled now or before: a settlement and its acknowledgement are made together, and a
-- settled request is never left pending for a processor to run again. Everything is checked and
-- decoded before the first write. With the settling consumer too, a settlement that is the group's
-- next entry (every entry before it read) is read at once for that consumer and not left pending
-- (XREADGROUP NOACK): no processor is woken to read an entry it would only skip.
--
-- KEYS[1]  the transfers stream      microbank:{transfers}
-- KEYS[2]  the transfer's status     microbank:{transfers}:status:<transfer> (status JSON)
-- ARGV[1]  the event type: TransferCompleted or TransferRejected
-- ARGV[2]  the event's data, as JSON
-- ARGV[3]  the final status, as JSON (the settlement's position is added here)
-- ARGV[4]  the retention, in milliseconds: how long the settled status is kept
-- ARGV[5]  optional: the consumer group that acknowledges the request (processors)
-- ARGV[6]  with ARGV[5]: the TransferRequested entry's ID, acknowledged in that group
-- ARGV[7]  optional, with ARGV[5]: the settling consumer, to which the settlement is delivered read
--
-- Returns: {"new", <entry ID>} or {"repeat", <status JSON as it stands>}.
if ARGV[1] ~= 'TransferCompleted' and ARGV[1] ~= 'TransferRejected' then
  return redis.error_reply('ERR a transfer is settled by TransferCompleted or TransferRejected')
end
if not string.match(ARGV[4], '^[1-9]%d*$') then return redis.error_reply('ERR the retention must be a whole number of ms') end
local group = ARGV[5]
-- Checked here in full, as XACK would: the acknowledgement is the last write, and must not fail.
local function u64(digits) return #digits < 20 or (#digits == 20 and digits <= '18446744073709551615') end
local ms, seq = string.match(ARGV[6] or '', '^(%d+)%-(%d+)$')
if group and not (ms and u64(ms) and u64(seq)) then
  return redis.error_reply('ERR an acknowledgement names its entry by a stream ID')
end
-- Last, after the XADD: a Redis out of memory refuses that (nothing written) but not an XACK, and a
-- request acknowledged without its settlement would never be run.
local function acknowledge()
  if group then redis.call('XACK', KEYS[1], group, ARGV[6]) end
end
-- Only when nothing in the group is unread before `id`: XREADGROUP would deliver the oldest unread.
-- Read with pcall, since none of this must stop the acknowledgement: the settlement is then only
-- delivered as any entry is.
local function readAlready(id)
  if not (group and ARGV[7]) then return end
  local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
  if type(groups) ~= 'table' or groups.err then return end
  for _, fields in ipairs(groups) do
    local name, last
    for i = 1, #fields - 1, 2 do
      if fields[i] == 'name' then name = fields[i + 1] elseif fields[i] == 'last-delivered-id' then last = fields[i + 1] end
    end
    if name == group and last then
      local unread = redis.pcall('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
      if type(unread) == 'table' and unread[1] and unread[1][1] == id then
        redis.pcall('XREADGROUP', 'GROUP', group, ARGV[7], 'COUNT', 1, 'NOACK', 'STREAMS', KEYS[1], '>')
      end
      return
    end
  end
end
local prior = redis.call('GET', KEYS[2])
if prior and cjson.decode(prior)['status'] ~= 'pending' then
  acknowledge()
  return { 'repeat', prior }
end
local status = cjson.decode(ARGV[3])
local id = redis.call('XADD', KEYS[1], '*', 'type', ARGV[1], 'v', '1', 'data', ARGV[2])
status['settled'] = id
redis.call('SET', KEYS[2], cjson.encode(status), 'PX', ARGV[4])
readAlready(id)
acknowledge()
return { 'new', id }
