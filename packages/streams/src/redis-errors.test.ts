/**
 * Which Redis errors a retry fixes: the replies a cluster gives while it changes roles or moves
 * slots are "not now" (a request answered 503, a read tried again at once), never permanent (which
 * would stop a projection or a consumer for seconds, or park a transfer); a reply no retry changes
 * stays permanent.
 */
import { testSuite } from '@microbank/testing';
import { ReplyError } from 'ioredis';
import * as assert from 'uvu/assert';
import { isPermanentRedisError, isRedisFull, isRedisNotNow } from './redis-errors.ts';

const errors = testSuite('Redis errors');

const reply = (message: string) => new ReplyError(message);

errors('a cluster changing roles or moving slots is not now, not permanent', () => {
  for (const message of [
    'MOVED 3999 127.0.0.1:6381',
    'ASK 3999 127.0.0.1:6381',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'CLUSTERDOWN The cluster is down',
    'READONLY You can`t write against a read only replica.',
    'NOREPLICAS Not enough good replicas to write.',
    'MASTERDOWN Link with MASTER is down',
    'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)',
    'LOADING Redis is loading the dataset in memory',
  ]) {
    assert.not.ok(isPermanentRedisError(reply(message)), message);
    assert.ok(isRedisNotNow(reply(message)), message);
  }
  for (const message of [
    'Too many Cluster redirections. Last error: MOVED',
    'Command timed out',
    'Connection is closed.',
  ]) {
    assert.ok(isRedisNotNow(new Error(message)), message);
  }
});

errors('a full Redis is its own answer; a reply no retry changes is permanent', () => {
  const full = reply('OOM command not allowed when used memory > maxmemory.');
  assert.ok(isRedisFull(full));
  assert.not.ok(isRedisNotNow(full));
  for (const message of ['WRONGTYPE Operation against a key holding the wrong kind of value', 'ERR unknown command']) {
    assert.ok(isPermanentRedisError(reply(message)), message);
    assert.not.ok(isRedisNotNow(reply(message)), message);
  }
});

errors.run();
