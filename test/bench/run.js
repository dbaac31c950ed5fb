'use strict';
/**
 * `npm run bench`: every measurement of BENCHMARKS.md in one go, on the
 * embedded default (SQLite event store and read model, projector in
 * process), each beside a bare node:http reference measured in the same run.
 *
 * The service is the built `dist/apps/api/src/main.js`, started as a child
 * process on a temporary data directory; load comes from autocannon in
 * another child process, over loopback. Prints a table; a full run also
 * writes it into BENCHMARKS.md. Exits non-zero only when the harness fails
 * or a correctness check does (a 202 that was not durable, a seeded visitor
 * not found), never because of a timing.
 *
 *   BENCH_QUICK=1    a short smoke run with small data, BENCHMARKS.md untouched
 *   BENCH_ROUNDS=N   rounds of reference, floor and service, alternated, for ingest and reads (default 3; 1 when quick)
 *   BENCH_PROFILE=1  also profile the service during ingest (--cpu-prof) and print a summary
 *   BENCH_KEEP=1     keep the temporary data directories
 */
const { execFileSync } = require('node:child_process');
const { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const Database = require('better-sqlite3');
const { ROOT, runJson, sampleRss, sleep, startServer } = require('./lib');
const { format: formatProfile, summarize: summarizeProfile } = require('./profile-summary');

const QUICK = process.env.BENCH_QUICK === '1';
const PROFILE = process.env.BENCH_PROFILE === '1';
const KEEP = process.env.BENCH_KEEP === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) throw new Error(`BENCH_ROUNDS must be a positive integer, got ${process.env.BENCH_ROUNDS}`);

const P = QUICK
  ? { warmup: 1, duration: 3, ingestVisitors: 10_000, readVisitors: 10_000, lagSeconds: 4, replayEvents: 100_000, replayVisitors: 10_000, growthLarge: 10_000, sizeDuration: 2 }
  : { warmup: 5, duration: 20, ingestVisitors: 10_000, readVisitors: 100_000, lagSeconds: 20, replayEvents: 1_000_000, replayVisitors: 10_000, growthLarge: 100_000, sizeDuration: 8 };
const CONNECTIONS = 64;
const REPLAY_HEAP_MB = 128;
const API_KEY = 'bench-key';
const BUILT = join(ROOT, 'dist');
const REFERENCE = join(__dirname, 'reference-server.js');
const FLOOR = join(__dirname, 'floor-server.js');

const work = mkdtempSync(join(os.tmpdir(), 'visitorbase-bench-'));
// The run measures a copy of the build, so a rebuild of dist/ while it runs cannot change or break what is measured.
const DIST = join(work, 'dist');
const SERVICE = join(DIST, 'apps', 'api', 'src', 'main.js');
process.env.BENCH_DIST = DIST;
process.env.NODE_PATH = join(ROOT, 'node_modules');
const rows = [];
const notes = [];
const failures = [];

function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function serviceEnv(dataDir) {
  return { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', API_KEYS: `development:${API_KEY}`, NODE_ENV: 'production' };
}

function load(server, spec) {
  return runJson('load.js', [JSON.stringify({ url: server.url, pid: server.pid, connections: CONNECTIONS, apiKey: API_KEY, warmupSeconds: P.warmup, durationSeconds: P.duration, ...spec })]);
}

/** Starts a server, runs `body` against it while sampling its resident set, stops it. */
async function withServer(name, script, options, body, stopSignal = 'SIGTERM') {
  const server = await startServer(name, script, options);
  const rss = sampleRss(server.pid);
  try {
    const result = await body(server);
    return { ...result, peakRssMb: rss.stop() };
  } finally {
    rss.stop();
    await server.stop(stopSignal);
  }
}

const f0 = (n) => (n == null ? 'n/a' : Math.round(n).toLocaleString('en-US'));
const f1 = (n) => (n == null ? 'n/a' : n.toFixed(1));
const f2 = (n) => (n == null ? 'n/a' : n.toFixed(2));
const ms = (n) => (n == null ? 'n/a' : `${n.toFixed(2)} ms`);
const x = (n) => (n == null ? 'n/a' : `${n.toFixed(2)}x`);
const met = (ok) => (ok ? 'yes' : '**no**');
const us = (n) => (n == null ? 'n/a' : `${Math.round(n)} µs`);

function row(what, service, reference, ratio, target, ok) {
  rows.push({ what, service, reference, ratio, target, met: ok === undefined ? '' : met(ok) });
}

function countUpserts(dataDir) {
  const db = new Database(join(dataDir, 'events.sqlite'));
  try {
    return db.prepare("SELECT count(*) AS n FROM events WHERE type = 'UserUpserted'").get().n;
  } finally {
    db.close();
  }
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs the reference, the floor, then the service, `ROUNDS` times. The
 * machine's load moves between runs by 10% or more; alternating and taking
 * medians (ratios round by round) keeps one unlucky run from deciding the
 * figures.
 */
async function rounds(phase, runReference, runFloor, runService) {
  const refs = [];
  const floors = [];
  const svcs = [];
  for (let round = 1; round <= ROUNDS; round++) {
    log(`${phase}: round ${round} of ${ROUNDS}, reference`);
    refs.push(await runReference(round));
    log(`${phase}: round ${round}, reference ${f0(refs.at(-1).rps)} req/s; floor`);
    floors.push(await runFloor(round));
    log(`${phase}: round ${round}, floor ${f0(floors.at(-1).rps)} req/s; service`);
    svcs.push(await runService(round));
    log(`${phase}: round ${round}, service ${f0(svcs.at(-1).rps)} req/s`);
  }
  const mid = (runs, pick) => median(runs.map(pick));
  const ratioOf = (runs, pick) => median(runs.map((run, i) => pick(run) / pick(refs[i])));
  const ratio = (pick) => ratioOf(svcs, pick);
  if (ROUNDS > 1) {
    const list = (runs) => runs.map((run, i) => `${f0(run.rps)} / ${f0(refs[i].rps)} (${x(run.rps / refs[i].rps)})`).join(', ');
    notes.push(
      `${phase}, round by round (service / reference req/s): ${list(svcs)}; floor / reference: ${list(floors)}; the table gives medians, and ratios are the medians of each round's ratio`,
    );
  }
  return { refs, floors, svcs, mid, ratio, ratioOf };
}

/**
 * Fails the run when a server answered anything but 2xx: throughput counts
 * every answer, so a server that broke would look fast.
 */
function answered(phase, round, who) {
  return (result) => {
    if (result.non2xx) failures.push(`${phase} round ${round}: ${result.non2xx} of the ${who}'s answers were not 2xx (${JSON.stringify(result.statuses)})`);
    return result;
  };
}

/**
 * The floor's row: the service's own stores under plain Fastify and nothing
 * else (floor-server.js), beside the same reference, round by round.
 */
function floorRow(what, { refs, floors, mid, ratioOf }) {
  const figures = (runs) => `${f0(mid(runs, (r) => r.rps))}; ${us(mid(runs, (r) => r.cpuUsPerRequest))}`;
  row(`${what} (req/s; CPU per request)`, figures(floors), figures(refs), x(ratioOf(floors, (r) => r.rps)), '', undefined);
}

/** CPU per request of rounds: the medians, and the median of the rounds' ratios (reference / service, as higher is better). */
function cpuRow(what, { refs, svcs, mid, ratio }) {
  row(what, us(mid(svcs, (r) => r.cpuUsPerRequest)), us(mid(refs, (r) => r.cpuUsPerRequest)), x(1 / ratio((r) => r.cpuUsPerRequest)), '', undefined);
}

/** The highest resident set of any round, for each server. */
function rssRow(what, { refs, svcs }) {
  const peak = (runs) => `${f0(Math.max(...runs.map((r) => r.peakRssMb)))} MB`;
  row(what, peak(svcs), peak(refs), '', '', undefined);
}

async function ingest() {
  const postSpec = { kind: 'post', visitors: P.ingestVisitors, events: 3, attributes: 3, userPrefix: 'i' };
  const profileDir = join(work, 'profile');
  let stored = 0;
  let accepted = 0;
  let durable = true;
  const measured = await rounds(
    'ingest',
    () => withServer('reference', REFERENCE, {}, (s) => load(s, postSpec)),
    (round) => withServer('floor', FLOOR, { env: serviceEnv(join(work, `ingest-floor-${round}`)) }, (s) => load(s, postSpec)).then(answered('ingest', round, 'floor')),
    async (round) => {
      const dataDir = join(work, `ingest-${round}`);
      // The first round alone is profiled.
      const nodeArgs = PROFILE && round === 1 ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      // SIGKILL: the process dies as in a crash, and every 202 must still be in the file.
      const svc = await withServer('service', SERVICE, { env: serviceEnv(dataDir), nodeArgs }, (s) => load(s, postSpec), PROFILE ? 'SIGINT' : 'SIGKILL');
      const inFile = countUpserts(dataDir);
      if (inFile < svc.okIncludingWarmup) {
        durable = false;
        failures.push(`ingest round ${round}: ${svc.okIncludingWarmup} requests answered 202 but only ${inFile} are in the event store`);
      }
      log(`ingest: round ${round}, ${svc.okIncludingWarmup} accepted, ${inFile} stored`);
      stored += inFile;
      accepted += svc.okIncludingWarmup;
      if (svc.non2xx || svc.errors) notes.push(`ingest round ${round}: ${svc.non2xx} non-2xx answers (${JSON.stringify(svc.statuses)}), ${svc.errors} errors`);
      return svc;
    },
  );
  const { refs, svcs, mid, ratio } = measured;
  const rps = mid(svcs, (r) => r.rps);
  const throughput = ratio((r) => r.rps);
  const p99 = ratio((r) => r.latencyMs.p99);
  row('1. Ingest throughput, POST 3 events + 3 attributes (req/s)', f0(rps), f0(mid(refs, (r) => r.rps)), x(throughput), '>= 0.6x', throughput >= 0.6);
  cpuRow('1. Ingest CPU per request (all threads; lower is better)', measured);
  row('1. Ingest latency p50', ms(mid(svcs, (r) => r.latencyMs.p50)), ms(mid(refs, (r) => r.latencyMs.p50)), x(ratio((r) => r.latencyMs.p50)), '', undefined);
  row('1. Ingest latency p99', ms(mid(svcs, (r) => r.latencyMs.p99)), ms(mid(refs, (r) => r.latencyMs.p99)), x(p99), '<= 3x', p99 <= 3);
  row(
    `1. Every 202 durable (${PROFILE ? 'after SIGINT' : 'after SIGKILL'}${ROUNDS > 1 ? `, ${ROUNDS} rounds` : ''})`,
    `${f0(stored)} stored / ${f0(accepted)} accepted`,
    '',
    '',
    'all',
    durable,
  );
  rssRow('1. Peak RSS during ingest', measured);
  floorRow('1. Floor: the same appends, stored the same way, under plain Fastify alone', measured);
  if (PROFILE) {
    // One profile per thread, named CPU.<date>.<time>.<pid>.<thread>.<n>: thread 0 serves requests; the
    // others are the projector and the WAL checkpointers.
    const threadOf = (name) => Number(name.split('.')[4]);
    const files = readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile')).sort((a, b) => threadOf(a) - threadOf(b));
    for (const file of files) {
      const where = KEEP ? join(profileDir, file) : 'removed at the end of the run; BENCH_KEEP=1 keeps it';
      process.stdout.write(`\nCPU profile of the service's thread ${threadOf(file)} during ingest, round 1 (${where}):\n${formatProfile(summarizeProfile(join(profileDir, file), 20))}\n\n`);
    }
  }
  return rps;
}

async function read() {
  const dataDir = join(work, 'read');
  log(`read: seeding ${P.readVisitors} projected visitors`);
  const seeded = await runJson('seed.js', ['profiles', dataDir, String(P.readVisitors)]);
  log(`read: seeded in ${f1(seeded.seconds)} s`);
  const getSpec = { kind: 'get-random', visitors: P.readVisitors, userPrefix: 'r' };
  const measured = await rounds(
    'read',
    () => withServer('reference', REFERENCE, {}, (s) => load(s, getSpec)),
    (round) => withServer('floor', FLOOR, { env: serviceEnv(dataDir) }, (s) => load(s, getSpec)).then(answered('read', round, 'floor')),
    (round) => withServer('service', SERVICE, { env: serviceEnv(dataDir) }, (s) => load(s, getSpec)).then(answered('read', round, 'service')),
  );
  const { refs, svcs, mid, ratio } = measured;
  const throughput = ratio((r) => r.rps);
  row(
    `2. Read throughput, GET of 20 events + 20 attributes among ${f0(P.readVisitors)} (req/s)`,
    f0(mid(svcs, (r) => r.rps)),
    f0(mid(refs, (r) => r.rps)),
    x(throughput),
    '>= 0.7x',
    throughput >= 0.7,
  );
  cpuRow('2. Read CPU per request (all threads; lower is better)', measured);
  row('2. Read latency p99', ms(mid(svcs, (r) => r.latencyMs.p99)), ms(mid(refs, (r) => r.latencyMs.p99)), x(ratio((r) => r.latencyMs.p99)), '', undefined);
  rssRow('2. Peak RSS during reads', measured);
  floorRow('2. Floor: the same reads of the same read model under plain Fastify alone', measured);
  return seeded;
}

async function lag(ingestRps) {
  const dataDir = join(work, 'lag');
  const rate = Math.max(10, Math.round(ingestRps / 2));
  log(`lag: ingest at ${rate} req/s with probes`);
  const svc = await withServer('service', SERVICE, { env: serviceEnv(dataDir) }, async (s) => {
    const background = runJson('load.js', [
      JSON.stringify({ url: s.url, connections: CONNECTIONS, apiKey: API_KEY, kind: 'post', visitors: P.ingestVisitors, events: 3, attributes: 3, userPrefix: 'l', overallRate: rate, warmupSeconds: 2, durationSeconds: P.lagSeconds + 2 }),
    ]);
    await sleep(3000);
    const probes = await runJson('lag-probe.js', [JSON.stringify({ url: s.url, apiKey: API_KEY, seconds: P.lagSeconds, intervalMs: 20, prefix: 'probe-' })]);
    const loadResult = await background;
    return { probes, load: loadResult };
  });
  const { probes, load: loadResult } = svc;
  log(`lag: p50 ${ms(probes.lagMs.p50)} p99 ${ms(probes.lagMs.p99)} over ${probes.probes} probes; ingest held ${f0(loadResult.rps)} req/s`);
  row(`3. Read-after-write lag p50 (ingest at ${f0(loadResult.rps)} req/s, ${probes.probes} probes)`, ms(probes.lagMs.p50), '', '', '<= 5 ms', probes.lagMs.p50 <= 5);
  row('3. Read-after-write lag p99', ms(probes.lagMs.p99), '', '', '<= 25 ms', probes.lagMs.p99 <= 25);
  row('3. Read-after-write lag max; share visible on the first GET', `${ms(probes.lagMs.max)}; ${(probes.visibleOnFirstGet * 100).toFixed(0)}%`, '', '', '', undefined);
  row('3. Of which the GET that found the write, its own round trip: p50 / p99', `${ms(probes.lastGetMs.p50)} / ${ms(probes.lastGetMs.p99)}`, '', '', '', undefined);
  row('3. Peak RSS during lag', `${f0(svc.peakRssMb)} MB`, '', '', '', undefined);
}

async function replay() {
  const dataDir = join(work, 'replay');
  log(`replay: seeding ${P.replayEvents} events over ${P.replayVisitors} visitors`);
  const seeded = await runJson('seed.js', ['events', dataDir, String(P.replayEvents), String(P.replayVisitors)]);
  log(`replay: seeded in ${f1(seeded.seconds)} s; rebuilding`);
  const result = await runJson('replay.js', [dataDir, String(seeded.events)]);
  log(`replay: ${f0(result.eventsPerSecond)} events/s, peak RSS ${f0(result.peakRssMb)} MB; again with V8's heap capped at ${REPLAY_HEAP_MB} MB`);
  // V8 grows its heap with garbage long before it collects; with the heap capped, the resident set shows what the rebuild keeps.
  const capped = await runJson('replay.js', [dataDir, String(seeded.events)], { nodeArgs: [`--max-old-space-size=${REPLAY_HEAP_MB}`] });
  log(`replay capped: ${f0(capped.eventsPerSecond)} events/s, peak RSS ${f0(capped.peakRssMb)} MB; again on one thread`);
  const single = await runJson('replay.js', [dataDir, String(seeded.events)], { env: { REPLAY_WORKERS: '1' } });
  log(`replay on one thread: ${f0(single.eventsPerSecond)} events/s, peak RSS ${f0(single.peakRssMb)} MB`);
  // Flat as the log grows: the same visitors with half the events, rebuilt the same way, should peak as high.
  const halfDir = join(work, 'replay-half');
  const halfEvents = P.replayEvents / 2;
  log(`replay: seeding ${halfEvents} events over the same ${P.replayVisitors} visitors; rebuilding with the heap capped`);
  await runJson('seed.js', ['events', halfDir, String(halfEvents), String(P.replayVisitors)]);
  const half = await runJson('replay.js', [halfDir, String(halfEvents)], { nodeArgs: [`--max-old-space-size=${REPLAY_HEAP_MB}`] });
  log(`replay of half the log: ${f0(half.eventsPerSecond)} events/s, peak RSS ${f0(half.peakRssMb)} MB`);
  const threads = result.workers === 1 ? 'one thread' : `${result.workers} threads`;
  row(`4. Replay, ${f0(result.events)} events over ${f0(P.replayVisitors)} visitors, ${threads} (events/s)`, f0(result.eventsPerSecond), '', '', '>= 300,000', result.eventsPerSecond >= 300_000);
  row('4. Replay peak RSS, V8 defaults', `${f0(result.peakRssMb)} MB`, '', '', '<= 300 MB', result.peakRssMb <= 300);
  row(`4. Replay with V8's heap capped at ${REPLAY_HEAP_MB} MB: events/s; peak RSS`, `${f0(capped.eventsPerSecond)}; ${f0(capped.peakRssMb)} MB`, '', '', '<= 300 MB', capped.peakRssMb <= 300);
  row(
    `4. Replay peak RSS (heap capped), ${f0(half.events)} vs ${f0(capped.events)} events over the same visitors`,
    `${f0(half.peakRssMb)} vs ${f0(capped.peakRssMb)} MB`,
    '',
    '',
    'flat',
    capped.peakRssMb <= half.peakRssMb * 1.1 + 8,
  );
  row('4. Replay on one thread (`REPLAY_WORKERS=1`): events/s; peak RSS', `${f0(single.eventsPerSecond)}; ${f0(single.peakRssMb)} MB`, '', '', '', undefined);
  notes.push(`replay: seeding ${f0(seeded.events)} events through SqliteEventStore.append took ${f1(seeded.seconds)} s (${f0(seeded.events / seeded.seconds)} events/s in batches of 2000 concurrent appends)`);
  notes.push(`replay: resident set after each tenth of the log: ${result.samples.map((s) => f0(s.rssMb)).join(', ')} MB with V8 defaults; ${capped.samples.map((s) => f0(s.rssMb)).join(', ')} MB with the heap capped; ${half.samples.map((s) => f0(s.rssMb)).join(', ')} MB for half the log, heap capped (with several threads the last tenth includes the first shares' final saves)`);
}

async function growth() {
  const dataDir = join(work, 'growth');
  log(`growth: seeding visitors of 10 and ${P.growthLarge} events`);
  const seeded = await runJson('seed.js', ['growth', dataDir, '10', String(P.growthLarge)]);
  const svc = await withServer('service', SERVICE, { env: serviceEnv(dataDir) }, async (s) => {
    // Alternated and averaged: on a shared machine, whichever runs second would otherwise carry the drift.
    const runs = { small: [], large: [] };
    for (let round = 0; round < 2; round++) {
      for (const which of ['small', 'large']) {
        runs[which].push(await load(s, { kind: 'get-fixed', userId: seeded[which].userId, warmupSeconds: 2, durationSeconds: P.sizeDuration / 2 }));
      }
    }
    return { small: mean(runs.small), large: mean(runs.large) };
  });
  for (const [label, r] of [[`10`, svc.small], [f0(P.growthLarge), svc.large]]) {
    if (r.non2xx) failures.push(`growth: GET of the visitor with ${label} events answered ${JSON.stringify(r.statuses)}`);
  }
  row(
    `5. GET one visitor with 10 vs ${f0(P.growthLarge)} events: p50 / p99`,
    `${ms(svc.small.latencyMs.p50)} / ${ms(svc.small.latencyMs.p99)} vs ${ms(svc.large.latencyMs.p50)} / ${ms(svc.large.latencyMs.p99)}`,
    '',
    x(svc.large.latencyMs.p50 / svc.small.latencyMs.p50),
    'flat',
    svc.large.latencyMs.p50 / svc.small.latencyMs.p50 <= 1.5,
  );
  row('5. GET one visitor with 10 vs many events (req/s)', `${f0(svc.small.rps)} vs ${f0(svc.large.rps)}`, '', x(svc.large.rps / svc.small.rps), '', undefined);

  const sizes = [1, 10, 100, 1000];
  const sizeDir = join(work, 'sizes');
  const sized = await withServer('service', SERVICE, { env: serviceEnv(sizeDir) }, async (s) => {
    const out = [];
    for (const events of sizes) {
      log(`growth: POST with ${events} events per request`);
      out.push(await load(s, { kind: 'post', visitors: events >= 100 ? 1000 : P.ingestVisitors, events, attributes: 3, userPrefix: `s${events}-`, warmupSeconds: 2, durationSeconds: P.sizeDuration }));
    }
    return { out };
  });
  const refSized = await withServer('reference', REFERENCE, {}, async (s) => {
    const out = [];
    for (const events of sizes) {
      out.push(await load(s, { kind: 'post', visitors: events >= 100 ? 1000 : P.ingestVisitors, events, attributes: 3, userPrefix: `s${events}-`, warmupSeconds: 2, durationSeconds: P.sizeDuration }));
    }
    return { out };
  });
  sizes.forEach((events, i) => {
    const r = sized.out[i];
    const ref = refSized.out[i];
    const stored = events + 1;
    row(
      `5. POST with ${events} event${events === 1 ? '' : 's'} per request: req/s; service CPU per request and per stored event`,
      r.rps > 0
        ? `${f0(r.rps)}; ${us(r.cpuUsPerRequest)}, ${f1(r.cpuUsPerRequest / stored)} µs/event`
        : `none completed (${JSON.stringify(r.statuses)}, ${r.errors} errors, ${r.timeouts} timeouts)`,
      `${f0(ref.rps)}; ${us(ref.cpuUsPerRequest)}`,
      x(r.rps / ref.rps),
      'linear',
      undefined,
    );
  });
  row('5. Peak RSS during POST sizes', `${f0(sized.peakRssMb)} MB`, `${f0(refSized.peakRssMb)} MB`, '', '', undefined);
}

/** Mean throughput and latencies of repeated runs; status counts added up. */
function mean(results) {
  const avg = (pick) => results.reduce((sum, r) => sum + pick(r), 0) / results.length;
  const statuses = {};
  for (const r of results) for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  return {
    rps: avg((r) => r.rps),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    statuses,
    latencyMs: { p50: avg((r) => r.latencyMs.p50), p99: avg((r) => r.latencyMs.p99) },
  };
}

function machine() {
  const cpus = os.cpus();
  let kernel = os.release();
  let disk = '';
  try {
    disk = execFileSync('df', ['-h', '--output=source,fstype,size', os.tmpdir()], { encoding: 'utf8' }).trim().split('\n').pop();
  } catch {
    /* df is only informative */
  }
  return {
    cpu: `${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB`,
    os: `${os.type()} ${kernel}`,
    node: process.version,
    disk,
  };
}

function table() {
  const header = '| measurement | service | reference | service / reference | target | met |\n|---|---|---|---|---|---|';
  return [header, ...rows.map((r) => `| ${r.what} | ${r.service} | ${r.reference} | ${r.ratio} | ${r.target} | ${r.met} |`)].join('\n');
}

async function main() {
  if (!existsSync(join(BUILT, 'apps', 'api', 'src', 'main.js'))) throw new Error(`${BUILT} holds no build: run \`npm run build\` first (npm run bench does)`);
  cpSync(BUILT, DIST, { recursive: true });
  const started = new Date();
  const m = machine();
  const loadBefore = os.loadavg();
  log(`data in ${work}; ${QUICK ? 'quick smoke run' : 'full run'}`);
  const ingestRps = await ingest();
  await read();
  await lag(ingestRps);
  await replay();
  await growth();
  const loadAfter = os.loadavg();
  const minutes = (Date.now() - started.getTime()) / 60000;
  const command = `${QUICK ? 'BENCH_QUICK=1 ' : ''}${PROFILE ? 'BENCH_PROFILE=1 ' : ''}npm run bench`;
  const report = [
    `Run of ${started.toISOString().replace(/\.\d+Z$/, 'Z')}, \`${command}\`, ${f1(minutes)} minutes${QUICK ? ' (quick smoke run: small data, short runs; not comparable)' : ''}.`,
    '',
    `Machine: ${m.cpu}, ${m.memory}, ${m.os}, Node.js ${m.node}; temporary files on \`${m.disk}\`.`,
    `Load: autocannon in its own process, ${CONNECTIONS} connections over loopback, ${P.warmup} s warm-up then ${P.duration} s measured (${P.sizeDuration} s for the growth runs); ingest and reads: ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} of reference, floor, then service.`,
    `Load average (1, 5, 15 min) before: ${loadBefore.map(f2).join(', ')}; after: ${loadAfter.map(f2).join(', ')}.`,
    '',
    table(),
    '',
    ...notes.map((n) => `- ${n}`),
  ].join('\n');
  process.stdout.write(`\n${report}\n`);
  if (!QUICK && process.env.BENCH_WRITE !== '0') writeResults(report);
  if (failures.length > 0) {
    process.stderr.write(`\nCorrectness checks failed:\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
    process.exitCode = 2;
  }
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces the results section of BENCHMARKS.md, between its markers, with this run. */
function writeResults(report) {
  const file = join(ROOT, 'BENCHMARKS.md');
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return;
  writeFileSync(file, `${text.slice(0, a + START.length)}\n${report}\n${text.slice(b)}`);
  log('results written to BENCHMARKS.md');
}

main()
  .catch((error) => {
    process.stderr.write(`bench: ${error.stack ?? error}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!KEEP) rmSync(work, { recursive: true, force: true });
  });
