'use strict';
/**
 * A/B of builds under one load, alternated round by round so that both see
 * the same machine: how the changes in BENCHMARKS.md were weighed.
 *
 *   node test/bench/compare.js post|get|lag ROUNDS DIST [DIST...]
 *
 * Each DIST is a copy of `dist/` (made with `npm run build && cp -r dist
 * /tmp/dist-a`); packages resolve from this checkout's node_modules, so to
 * compare versions of a dependency, run the same DIST before and after
 * installing the other version. `post` is phase 1's load (3 events and 3
 * attributes, 10 000 visitors), `get` reads one visitor of 20 attributes and
 * 20 events, `lag` is phase 3 at RATE req/s (default 2 000). Prints one line
 * per run and the median of each DIST.
 */
const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { ROOT, runJson, sleep, startServer } = require('./lib');
const { ATTRIBUTE_NAMES, EVENT_NAMES } = require('./shapes');

const [kind, roundsText, ...dists] = process.argv.slice(2);
const rounds = Number(roundsText);
if (!['post', 'get', 'lag'].includes(kind) || !(rounds >= 1) || dists.length === 0) {
  process.stderr.write('usage: node test/bench/compare.js post|get|lag ROUNDS DIST [DIST...]\n');
  process.exit(2);
}
process.env.NODE_PATH = join(ROOT, 'node_modules');
const API_KEY = 'bench-key';
const RATE = Number(process.env.RATE ?? 2000);

async function once(dist) {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'visitorbase-compare-'));
  const env = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', API_KEYS: `development:${API_KEY}`, NODE_ENV: 'production' };
  const server = await startServer('service', join(dist, 'apps', 'api', 'src', 'main.js'), { env });
  const base = { url: server.url, connections: 64, apiKey: API_KEY };
  try {
    if (kind === 'lag') {
      const load = runJson('load.js', [JSON.stringify({ ...base, kind: 'post', visitors: 10_000, events: 3, attributes: 3, userPrefix: 'l', overallRate: RATE, warmupSeconds: 2, durationSeconds: 17 })]);
      await sleep(3000);
      const probes = await runJson('lag-probe.js', [JSON.stringify({ url: server.url, apiKey: API_KEY, seconds: 15, intervalMs: 20, prefix: 'probe-' })]);
      const ingest = await load;
      return { value: probes.lagMs.p99, line: `lag p50 ${probes.lagMs.p50.toFixed(2)} ms, p99 ${probes.lagMs.p99.toFixed(2)} ms (the GET that found it: p50 ${probes.lastGetMs.p50.toFixed(2)} ms, p99 ${probes.lastGetMs.p99.toFixed(2)} ms), ingest ${Math.round(ingest.rps)} req/s` };
    }
    if (kind === 'get') {
      const body = {
        userId: 'u1',
        attributes: Object.fromEntries(ATTRIBUTE_NAMES.map((name, i) => [name, `value ${i}`])),
        events: EVENT_NAMES.map((event) => ({ event })),
      };
      const answer = await fetch(`${server.url}/v2/users`, {
        method: 'POST',
        headers: { authorization: `API-Key ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (answer.status !== 202) throw new Error(`seeding POST answered ${answer.status}`);
      // With the write's token the GET waits until the projection has it.
      const token = answer.headers.get('x-consistency-token');
      const read = await fetch(`${server.url}/v2/users/u1`, { headers: { authorization: `API-Key ${API_KEY}`, 'x-consistency-token': token } });
      if (read.status !== 200) throw new Error(`seeded visitor answered ${read.status}`);
    }
    const spec = kind === 'get'
      ? { kind: 'get-fixed', userId: 'u1' }
      : { kind: 'post', visitors: 10_000, userPrefix: 'i', events: 3, attributes: 3 };
    const r = await runJson('load.js', [JSON.stringify({ ...base, pid: server.pid, warmupSeconds: 2, durationSeconds: 5, ...spec })]);
    if (r.non2xx > 0) throw new Error(`${r.non2xx} answers were not 2xx`);
    return { value: r.cpuUsPerRequest, line: `${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs of CPU per request` };
  } finally {
    await server.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  const results = new Map(dists.map((dist) => [dist, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const dist of dists) {
      const { value, line } = await once(dist);
      results.get(dist).push(value);
      process.stdout.write(`round ${round} ${dist}: ${line}\n`);
    }
  }
  const unit = kind === 'lag' ? 'ms of lag at p99' : 'µs of CPU per request';
  for (const [dist, values] of results) {
    const sorted = [...values].sort((a, b) => a - b);
    process.stdout.write(`median ${dist}: ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ${unit}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`compare: ${error.stack ?? error}\n`);
  process.exit(1);
});
