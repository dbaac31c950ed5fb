'use strict';
/**
 * The load generator, always run as its own process so that it never shares
 * an event loop with the server it measures. Takes one JSON argument, runs a
 * warm-up and then the measured run with autocannon, and prints one JSON line.
 *
 * Latency is taken from every response with sub-millisecond resolution
 * (autocannon's own histogram rounds to whole milliseconds).
 */
const { readFileSync } = require('node:fs');
const autocannon = require('autocannon');
const { random, upsertBody, userId } = require('./shapes');

const spec = JSON.parse(process.argv[2]);

function requestFactory() {
  const rnd = random(spec.seed ?? 42);
  const headers = { authorization: `API-Key ${spec.apiKey ?? 'none'}` };
  if (spec.kind === 'post') {
    // One body per visitor, made up front: the generator only picks.
    const pool = [];
    for (let i = 0; i < spec.visitors; i++) {
      pool.push(JSON.stringify(upsertBody(userId(spec.userPrefix, i), i, spec.events, spec.attributes, rnd)));
    }
    return {
      method: 'POST',
      path: '/v2/users',
      headers: { ...headers, 'content-type': 'application/json' },
      setupRequest: (req) => {
        req.body = pool[Math.floor(Math.random() * pool.length)];
        return req;
      },
    };
  }
  if (spec.kind === 'get-random') {
    const paths = [];
    for (let i = 0; i < spec.visitors; i++) paths.push(`/v2/users/${encodeURIComponent(userId(spec.userPrefix, i))}`);
    return {
      method: 'GET',
      path: paths[0],
      headers,
      setupRequest: (req) => {
        req.path = paths[Math.floor(Math.random() * paths.length)];
        return req;
      },
    };
  }
  if (spec.kind === 'get-fixed') {
    return { method: 'GET', path: `/v2/users/${encodeURIComponent(spec.userId)}`, headers };
  }
  throw new Error(`unknown load kind ${spec.kind}`);
}

function run(seconds, request, record) {
  return new Promise((resolve, reject) => {
    const options = {
      url: spec.url,
      connections: spec.connections,
      duration: seconds,
      requests: [request],
      timeout: 30,
    };
    if (spec.overallRate) options.overallRate = spec.overallRate;
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    if (record) instance.on('response', (_client, statusCode, _bytes, responseTime) => record(statusCode, responseTime));
  });
}

/**
 * CPU time (user + system, all threads) the server has used so far, in ms,
 * from /proc; clock ticks are 10 ms on Linux. CPU per request holds up on a
 * shared machine where throughput moves with whoever else is running.
 */
function cpuMs(pid) {
  if (!pid) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const request = requestFactory();
  let warm = { '2xx': 0 };
  if (spec.warmupSeconds > 0) warm = await run(spec.warmupSeconds, request);
  let latencies = new Float64Array(1 << 20);
  let count = 0;
  const statuses = {};
  const cpuBefore = cpuMs(spec.pid);
  const result = await run(spec.durationSeconds, request, (status, ms) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[count++] = ms;
  });
  const cpuAfter = cpuMs(spec.pid);
  const sorted = latencies.subarray(0, count).sort();
  const seconds = result.duration;
  process.stdout.write(
    JSON.stringify({
      requests: count,
      seconds,
      rps: count / seconds,
      ok: result['2xx'],
      okIncludingWarmup: result['2xx'] + warm['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statuses,
      cpuUsPerRequest: cpuBefore !== undefined && cpuAfter !== undefined && count > 0 ? ((cpuAfter - cpuBefore) * 1000) / count : null,
      latencyMs: {
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: percentile(sorted, 100),
      },
    }) + '\n',
  );
}

main().catch((error) => {
  process.stderr.write(`load: ${error.stack ?? error}\n`);
  process.exit(1);
});
