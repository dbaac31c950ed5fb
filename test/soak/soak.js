'use strict';
/**
 * Soak: finds the service's maximum ingest rate on this machine, then holds
 * POST /v2/users at a share of it (70% by default) for a while (10 minutes by
 * default), sampling the service's memory and event-loop delay from inside.
 * Afterwards it checks that no request failed, that the log holds exactly
 * the acknowledged requests, and that the service exits 0 on SIGTERM; and it
 * reports the memory trend (least-squares slope, and the last quarter
 * against the second).
 *
 *   npm run soak -- [--minutes 10] [--share 0.7] [--measure-seconds 20]
 *                   [--connections 32] [--visitors 5000] [--out soak.json]
 *
 * Not part of npm test: it takes as long as it is told to.
 */
const { spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } = require('node:fs');
const { freePort } = require('../tools/free-port');
const { cpus, tmpdir, totalmem } = require('node:os');
const { join } = require('node:path');
const autocannon = require('autocannon');

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'apps', 'api', 'src', 'main.js');
const PROBE = join(__dirname, 'probe.js');
const KEY = 'soak-key-0123456789';

function parseArgs(argv) {
  const options = { minutes: 10, share: 0.7, measureSeconds: 20, connections: 32, visitors: 5000, out: undefined, sampleMs: 5000 };
  for (let i = 0; i < argv.length; i++) {
    const value = () => argv[++i];
    const arg = argv[i];
    if (arg === '--minutes') options.minutes = Number(value());
    else if (arg === '--share') options.share = Number(value());
    else if (arg === '--measure-seconds') options.measureSeconds = Number(value());
    else if (arg === '--connections') options.connections = Number(value());
    else if (arg === '--visitors') options.visitors = Number(value());
    else if (arg === '--sample-ms') options.sampleMs = Number(value());
    else if (arg === '--out') options.out = value();
    else throw new Error(`unknown argument ${arg}`);
  }
  return options;
}

const log = (message) => process.stderr.write(`soak: ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function startService(dataDir, probeFile, sampleMs) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--require', PROBE, MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NO_COLOR: '1',
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      API_KEYS: `development:${KEY}`,
      LOG_LEVEL: 'warn',
      SOAK_PROBE_FILE: probeFile,
      SOAK_PROBE_INTERVAL_MS: String(sampleMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output = (output + c).slice(-20_000)));
  child.stderr.on('data', (c) => (output = (output + c).slice(-20_000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`${url}/v2/users/probe`, { headers: { authorization: `API-Key ${KEY}` } });
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`service did not start:\n${output}`);
      await sleep(50);
    }
  }
  return { child, url, exited, output: () => output };
}

/** POST /v2/users for a spread of visitors, each with a couple of attributes and events. */
function postRequest(visitors) {
  let n = 0;
  return {
    method: 'POST',
    path: '/v2/users',
    headers: { authorization: `API-Key ${KEY}`, 'content-type': 'application/json' },
    setupRequest: (req) => {
      n++;
      const v = Math.floor(Math.random() * visitors);
      req.body = JSON.stringify({
        userId: `soak-visitor-${v}`,
        attributes: { plan: n % 3 === 0 ? 'enterprise' : 'free', seen: n, active: n % 2 === 0 },
        events: [{ event: `Event ${n % 7}`, timestamp: Date.now() }],
        ...(n % 10 === 0 ? { emailAddress: `visitor${v}@example.com` } : {}),
      });
      return req;
    },
  };
}

function load(url, seconds, connections, visitors, overallRate, onTick) {
  return new Promise((resolve, reject) => {
    const options = { url, connections, duration: seconds, requests: [postRequest(visitors)], timeout: 30 };
    if (overallRate) options.overallRate = overallRate;
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    if (onTick) instance.on('tick', onTick);
  });
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const num = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const percentile = (xs, p) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

function memoryTrend(samples, key) {
  const t0 = samples[0].t;
  const points = samples.map((s) => [(s.t - t0) / 60_000, s[key]]);
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const second = samples.slice(quarter, 2 * quarter).map((s) => s[key]);
  const last = samples.slice(-quarter).map((s) => s[key]);
  return {
    firstMB: mb(samples[0][key]),
    lastMB: mb(samples[samples.length - 1][key]),
    maxMB: mb(Math.max(...samples.map((s) => s[key]))),
    slopeMBPerMin: Math.round((slope(points) / 1024 / 1024) * 100) / 100,
    secondQuarterMeanMB: mb(mean(second)),
    lastQuarterMeanMB: mb(mean(last)),
  };
}

async function countUpserts(dataDir) {
  const { SqliteEventStore } = require(join(ROOT, 'dist', 'libs', 'event-store', 'src'));
  const store = new SqliteEventStore(join(dataDir, 'events.sqlite'));
  let upserts = 0;
  let events = 0;
  try {
    for await (const event of store.readAll()) {
      events++;
      if (event.type === 'UserUpserted') upserts++;
    }
  } finally {
    await store.close();
  }
  return { upserts, events };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
  const dataDir = mkdtempSync(join(tmpdir(), 'visitorbase-soak-'));
  const probeFile = join(dataDir, 'probe.ndjson');
  const startedAt = new Date();
  try {
    const service = await startService(dataDir, probeFile, options.sampleMs);
    log(`measuring the maximum ingest rate for ${options.measureSeconds} s with ${options.connections} connections`);
    const max = await load(service.url, options.measureSeconds, options.connections, options.visitors);
    const maxRate = max['2xx'] / options.measureSeconds;
    const target = Math.max(1, Math.round(maxRate * options.share));
    log(`maximum ${Math.round(maxRate)} requests/s (p99 ${max.latency.p99} ms); holding ${target}/s for ${options.minutes} min`);

    const soakStart = Date.now();
    const perSecond = [];
    const soak = await load(service.url, Math.round(options.minutes * 60), options.connections, options.visitors, target, (counter) => {
      perSecond.push(counter.counter);
      if (perSecond.length % 60 === 0) log(`${perSecond.length / 60} min: ${counter.counter} requests in the last second`);
    });
    const soakEnd = Date.now();

    const stopped = await (async () => {
      service.child.kill('SIGTERM');
      return service.exited;
    })();
    const samples = readFileSync(probeFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const during = samples.filter((s) => s.t >= soakStart && s.t <= soakEnd + options.sampleMs);
    // The first minute warms caches, the JIT and the heap up to its working size: the trend is judged after it.
    const steady = during.filter((s) => s.t >= soakStart + 60_000);
    const judged = steady.length >= 8 ? steady : during;
    const { upserts, events } = await countUpserts(dataDir);
    const acknowledged = max['2xx'] + soak['2xx'];
    const rss = memoryTrend(judged, 'rss');
    // One point per full collection: a sample repeats the last one's figure when none ran since.
    const afterGc = judged.filter((s, i) => s.heapAfterMajorGc !== undefined && (i === 0 || s.majorGcs !== judged[i - 1].majorGcs));
    const heap = memoryTrend(afterGc.length >= 4 ? afterGc : judged, afterGc.length >= 4 ? 'heapAfterMajorGc' : 'heapUsed');
    const summary = {
      date: startedAt.toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGB: Math.round(totalmem() / 1024 ** 3), node: process.version },
      measure: { seconds: options.measureSeconds, connections: options.connections, maxRequestsPerSecond: Math.round(maxRate), p50Ms: max.latency.p50, p99Ms: max.latency.p99, errors: max.errors, non2xx: max.non2xx },
      soak: {
        minutes: options.minutes,
        targetRequestsPerSecond: target,
        achievedRequestsPerSecond: Math.round(soak['2xx'] / ((soakEnd - soakStart) / 1000)),
        slowestSecond: Math.min(...perSecond.slice(1, -1)),
        requests: soak.requests.total,
        ok2xx: soak['2xx'],
        non2xx: soak.non2xx,
        errors: soak.errors,
        timeouts: soak.timeouts,
        latencyMs: { p50: soak.latency.p50, p90: soak.latency.p90, p99: soak.latency.p99, max: soak.latency.max },
      },
      memory: {
        samples: judged.length,
        sampleEverySeconds: options.sampleMs / 1000,
        majorGcs: (judged[judged.length - 1]?.majorGcs ?? 0) - (judged[0]?.majorGcs ?? 0),
        rss,
        heapAfterMajorGc: heap,
      },
      eventLoopDelayMs: {
        meanOfMeans: Math.round(mean(during.map((s) => s.eldMeanMs)) * 100) / 100,
        p99OfP99s: percentile(during.map((s) => s.eldP99Ms), 99),
        medianP99: percentile(during.map((s) => s.eldP99Ms), 50),
        max: Math.max(...during.map((s) => s.eldMaxMs)),
      },
      log: { acknowledged, upsertsInLog: upserts, events },
      shutdown: stopped,
    };
    const problems = [];
    if (soak.errors || soak.non2xx || soak.timeouts || max.errors || max.non2xx) problems.push('requests failed');
    // Requests in flight when a run ends are appended but their answers are not counted: one per connection and run at most.
    if (upserts < acknowledged || upserts > acknowledged + 2 * options.connections) {
      problems.push(`the log holds ${upserts} upserts for ${acknowledged} acknowledged requests`);
    }
    if (stopped.code !== 0) problems.push(`exit ${stopped.code ?? stopped.signal} on SIGTERM`);
    // An upward trend: after warm-up, the heap left by full collections grows by more than
    // 1 MB a minute, or its last quarter sits more than 10% (and 2 MB) above its second.
    if (heap.slopeMBPerMin > 1 || heap.lastQuarterMeanMB > Math.max(heap.secondQuarterMeanMB * 1.1, heap.secondQuarterMeanMB + 2)) {
      problems.push('heap grows');
    }
    summary.problems = problems;
    summary.ok = problems.length === 0;
    const text = JSON.stringify(summary, null, 2);
    if (options.out) writeFileSync(options.out, `${text}\n`);
    process.stdout.write(`${text}\n`);
    if (!summary.ok) process.exitCode = 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  log(error.stack || String(error));
  process.exit(1);
});
