-- The instances of an account that are alive now (their expiry is after the Redis server's now).
--
-- KEYS[1]  the account's presence (a sorted set: member = instance, score = expiry in ms)
--
-- Returns: [member, expiry, member, ...], the latest expiry last.
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. nowMs, '+inf', 'WITHSCORES')
