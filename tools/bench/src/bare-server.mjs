/**
 * The bench's bare process: node:http and nothing else, answering every request 200 with BODY and
 * the POSITION header. Plain JavaScript, so that node starts it as it is (no tsx): next to a
 * service it is the floor of two figures: the requests/s any Node server can answer on this
 * machine (serve), and the time any Node process takes from spawn to answering (restart).
 * Usage: BODY=... POSITION=... node bare-server.mjs   (prints its port as the services do)
 */
import http from 'node:http';

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
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
