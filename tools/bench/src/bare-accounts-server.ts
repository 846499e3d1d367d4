/**
 * The serve benchmark's reference: a bare node:http server answering every request with the bytes
 * account-system answers GET /accounts with. Run as its own process, as account-system is.
 * Usage: node --import tsx bare-accounts-server.ts   (reads BODY and POSITION; prints its port)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = Buffer.from(process.env.BODY ?? '');
const headers = {
  'content-type': 'application/json',
  'content-length': String(body.length),
  'x-microbank-position': process.env.POSITION ?? '0-0',
};

const server = http.createServer((_request, response) => {
  response.writeHead(200, headers);
  response.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
