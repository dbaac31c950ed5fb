'use strict';
/**
 * Read-after-write lag as a client sees it: POST a visitor never seen
 * before, and from the moment the 202 arrives, GET it back to back until the
 * answer is 200. The lag is the time from the 202 to that first 200. One
 * probe at a time, one every INTERVAL ms, for SECONDS; run beside the ingest
 * load, in its own process.
 *
 *   lag-probe.js '{"url":…, "apiKey":…, "seconds":…, "intervalMs":…, "prefix":…}'
 */
const http = require('node:http');

const spec = JSON.parse(process.argv[2]);
const target = new URL(spec.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `API-Key ${spec.apiKey}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = http.request({ host: target.hostname, port: target.port, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function probe(n) {
  const userId = `${spec.prefix}${n}`;
  const body = JSON.stringify({ userId, attributes: { probe: n }, events: [{ event: 'Probe' }] });
  const posted = await request('POST', '/v2/users', body);
  const accepted = performance.now();
  if (posted.status !== 202) throw new Error(`probe POST answered ${posted.status}: ${posted.body}`);
  const path = `/v2/users/${encodeURIComponent(userId)}`;
  for (let gets = 1; ; gets++) {
    const sent = performance.now();
    const got = await request('GET', path);
    if (got.status === 200) {
      if (JSON.parse(got.body).attributes.probe !== n) throw new Error(`probe ${n} read back ${got.body}`);
      const now = performance.now();
      // The last GET's own round trip: the part of the lag that any GET would take under this load.
      return { lagMs: now - accepted, gets, lastGetMs: now - sent };
    }
    if (got.status !== 404) throw new Error(`probe GET answered ${got.status}: ${got.body}`);
    if (performance.now() - accepted > 30_000) throw new Error(`probe ${n} was not visible after 30 s`);
  }
}

async function main() {
  const lags = [];
  const lastGets = [];
  let gets = 0;
  let firstGetHits = 0;
  const end = performance.now() + spec.seconds * 1000;
  for (let n = 0; performance.now() < end; n++) {
    const started = performance.now();
    const result = await probe(n);
    lags.push(result.lagMs);
    lastGets.push(result.lastGetMs);
    gets += result.gets;
    if (result.gets === 1) firstGetHits++;
    const wait = spec.intervalMs - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  lags.sort((a, b) => a - b);
  lastGets.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      probes: lags.length,
      lagMs: { p50: percentile(lags, 50), p90: percentile(lags, 90), p99: percentile(lags, 99), max: percentile(lags, 100) },
      lastGetMs: { p50: percentile(lastGets, 50), p99: percentile(lastGets, 99) },
      getsPerProbe: gets / lags.length,
      visibleOnFirstGet: firstGetHits / lags.length,
    }) + '\n',
  );
  agent.destroy();
}

main().catch((error) => {
  process.stderr.write(`lag-probe: ${error.stack ?? error}\n`);
  process.exit(1);
});
