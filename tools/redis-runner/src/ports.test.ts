/** The ports the harness picks for servers: portForLater's stay out of the kernel's range for port 0. */
import { readFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, portForLater, portIsFree } from './redis-server.ts';

const ports = suite('ports');

ports('portForLater: free, from 20000 up to below the range port 0 and outgoing connections take from', async () => {
  const [ephemeralFrom = 32768] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
    .trim()
    .split(/\s+/)
    .map(Number);
  for (let i = 0; i < 20; i++) {
    const port = await portForLater();
    assert.ok(port >= 20_000 && port < ephemeralFrom, `${port} is below ${ephemeralFrom}`);
    assert.ok(await portIsFree(port), `${port} is free`);
  }
  // The contrast: freePort's come from that range (the kernel's choice for port 0).
  const ephemeral = await freePort();
  assert.ok(ephemeral >= ephemeralFrom, `freePort gave ${ephemeral}`);
});

ports.run();
