-- An instance says it is alive until now + ARGV[2] ms (by the Redis server's clock, so that the
-- instances' clocks do not matter); instances whose time has passed are dropped on the way.
--
-- KEYS[1]  the account's presence (a sorted set: member = instance, score = expiry in ms)
-- ARGV[1]  this instance's member (JSON [instance, url])
-- ARGV[2]  how long it counts as alive without another refresh, in ms
--
-- Returns: every live member after the refresh, with its expiry: [member, expiry, member, ...].
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
redis.call('ZADD', KEYS[1], nowMs + ttl, ARGV[1])
-- A set nobody refreshes any more disappears by itself.
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
