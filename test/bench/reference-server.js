'use strict';
/**
 * The ceiling: a bare node:http server doing the least a real one must. It
 * reads the whole POST body and answers 202 Accepted, and answers every GET
 * with one fixed profile of 20 attributes and 20 events. No routing, no
 * parsing, no storage: what one Node process on this machine can serve.
 */
const http = require('node:http');
const { fixedProfileJson } = require('./shapes');

const PROFILE = fixedProfileJson();
const port = Number(process.env.PORT || 0);
const host = process.env.HOST || '127.0.0.1';

const server = http.createServer((req, res) => {
  if (req.method === 'POST') {
    let length = 0;
    req.on('data', (chunk) => {
      length += chunk.length;
    });
    req.on('end', () => {
      res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '8' });
      res.end('Accepted');
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(PROFILE) });
  res.end(PROFILE);
});
server.keepAliveTimeout = 60_000;
server.listen(port, host, () => {
  const address = server.address();
  process.stdout.write(`listening on http://${host}:${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
