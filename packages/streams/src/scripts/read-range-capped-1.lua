-- Reads up to ARGV[3] entries of a stream after ARGV[1], up to ARGV[2], returning no more than
-- about ARGV[4] bytes: an entry larger than that comes back as a stub naming its size, and the
-- read stops once the bytes returned reach the budget (after at least one entry). The projection
-- uses it only where a plain XRANGE brought more than its budget (batch-sizer.ts), so that huge
-- entries are skipped without ever crossing the network.
--
-- KEYS[1]  the stream
-- ARGV[1]  exclusive start, "(<id>" (or "-")
-- ARGV[2]  inclusive end, "<id>" (or "+")
-- ARGV[3]  entries to read at most
-- ARGV[4]  byte budget of the reply
--
-- Returns: XRANGE's reply shape, [[id, [field, value, ...]], ...]; a stub entry's fields are
-- ["microbank-oversized", "<bytes>"].
local start = ARGV[1]
local limit = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local out = {}
local used = 0
while #out < limit do
  local found = redis.call('XRANGE', KEYS[1], start, ARGV[2], 'COUNT', 1)
  local entry = found[1]
  if entry == nil then break end
  local size = #entry[1]
  for _, field in ipairs(entry[2]) do size = size + #field end
  if size > budget then
    entry = { entry[1], { 'microbank-oversized', tostring(size) } }
    size = #entry[1] + 32
  end
  if #out > 0 and used + size > budget then break end
  out[#out + 1] = entry
  used = used + size
  start = '(' .. entry[1]
end
return out
