'use strict';
/**
 * Crash harness: drives concurrent ingest against the built service as a
 * real process, kills it with SIGKILL at random moments (some of them while
 * it is still starting and catching up), restarts it each time, and then
 * checks, with the service stopped, that:
 *
 * - every request answered 202 is in the event store, exactly once, with all
 *   of its events (a request that got no answer is in it entirely or not at
 *   all);
 * - the read model holds, for every visitor, exactly the profile the log
 *   implies: the pure fold of its stream, and independently of that fold,
 *   one count per tracked event in the log (none counted twice, none missing),
 *   and its checkpoint is the head of the log;
 * - the running service served those same profiles over HTTP.
 *
 *   node test/crash/crash-harness.js [--kills 20] [--concurrency 32] [--visitors 40]
 *        [--min-uptime-ms 300] [--max-uptime-ms 2500] [--seed N] [--keep]
 *
 * Prints progress on stderr and one JSON summary line on stdout; exits 1
 * when a check fails. Needs `npm run build` first (npm run test:crash does it).
 */
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync, existsSync } = require('node:fs');
const http = require('node:http');
const { freePort } = require('../tools/free-port');
const { tmpdir, cpus } = require('node:os');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');
const MAIN = join(DIST, 'apps', 'api', 'src', 'main.js');

const KEYS = { development: 'crash-dev-key-0123456789', production: 'crash-prod-key-9876543210' };
const API_KEYS = Object.entries(KEYS).map(([env, key]) => `${env}:${key}`).join(',');

function parseArgs(argv) {
  const options = {
    kills: 20,
    concurrency: 32,
    visitors: 40,
    minUptimeMs: 300,
    maxUptimeMs: 2500,
    /** Share of kills aimed at the start-up (recovery, projector catching up) rather than at steady ingest. */
    startupKillShare: 0.2,
    seed: Date.now() % 2 ** 31,
    keep: false,
    dataDir: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => argv[++i];
    if (arg === '--kills') options.kills = Number(value());
    else if (arg === '--concurrency') options.concurrency = Number(value());
    else if (arg === '--visitors') options.visitors = Number(value());
    else if (arg === '--min-uptime-ms') options.minUptimeMs = Number(value());
    else if (arg === '--max-uptime-ms') options.maxUptimeMs = Number(value());
    else if (arg === '--startup-kill-share') options.startupKillShare = Number(value());
    else if (arg === '--seed') options.seed = Number(value());
    else if (arg === '--data-dir') options.dataDir = value();
    else if (arg === '--keep') options.keep = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  return options;
}

/** A small seeded generator, so that a failing run can be replayed with --seed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const log = (message) => process.stderr.write(`crash-harness: ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The built service as its own process, on a fixed port so every restart is found at the same place. */
function spawnService(dataDir, port) {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NO_COLOR: '1', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', API_KEYS, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => (output = (output + chunk).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

function request(agent, port, method, path, { key, body } = {}) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = { authorization: `API-Key ${key}` };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', (error) => resolve({ error: error.code || error.message }));
    });
    req.on('error', (error) => resolve({ error: error.code || error.message }));
    req.end(payload);
  });
}

/** Resolves once the service answers HTTP, or with false if it exits first. */
async function waitUntilServing(service, port, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  service.exited.then(() => (exited = true));
  while (!exited) {
    const res = await request(undefined, port, 'GET', '/v2/users/crash-harness-probe', { key: KEYS.development });
    if (res.status !== undefined) return true;
    if (Date.now() > deadline) throw new Error(`service did not start within ${timeoutMs} ms:\n${service.output()}`);
    await sleep(20);
  }
  return false;
}

/**
 * The ledger of every request sent: its id is in its body (`attributes.req`)
 * and its events carry timestamps only it uses, so the log says exactly
 * which requests it holds, and how much of each.
 */
function makeRequest(id, rnd, visitors) {
  const environment = rnd() < 0.8 ? 'development' : 'production';
  const userId = `visitor/${Math.floor(rnd() * visitors)}`;
  const eventCount = Math.floor(rnd() * 4);
  const events = Array.from({ length: eventCount }, (_, i) => ({ event: `Event ${Math.floor(rnd() * 5)}`, timestamp: id * 10 + i }));
  const body = { userId, attributes: { req: `r${id}`, n: id, flag: id % 2 === 0 }, events };
  if (rnd() < 0.1) body.emailAddress = `v${id}@example.com`;
  return { id, environment, body, outcome: 'pending' };
}

/** Keeps `concurrency` POSTs in flight until `stop()`; records what each one got. */
function startIngest({ port, concurrency, visitors, rnd, ledger, nextId }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let stopping = false;
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stopping) {
      const entry = makeRequest(nextId(), rnd, visitors);
      ledger.push(entry);
      const res = await request(agent, port, 'POST', '/v2/users', { key: KEYS[entry.environment], body: entry.body });
      if (res.status === 202) entry.outcome = 'acked';
      else if (res.status !== undefined) {
        entry.outcome = 'answered';
        entry.status = res.status;
        entry.text = res.text.slice(0, 300);
      } else {
        // Refused, reset or cut off mid-answer: the request may or may not have been appended.
        entry.outcome = 'no-answer';
        entry.error = res.error;
        // The service is down (killed, or restarting): do not spin.
        await sleep(5);
      }
    }
  });
  return {
    async stop() {
      stopping = true;
      await Promise.all(workers);
      agent.destroy();
    },
  };
}

/** Every event of the log, read with the service stopped through the product's own SQLite adapter. */
async function readLog(dataDir) {
  const { SqliteEventStore } = require(join(DIST, 'libs', 'event-store', 'src'));
  const store = new SqliteEventStore(join(dataDir, 'events.sqlite'));
  const events = [];
  try {
    for await (const event of store.readAll()) events.push(event);
    return { events, head: await store.headPosition() };
  } finally {
    await store.close();
  }
}

async function readModelState(dataDir, keys) {
  const { SqliteReadModel } = require(join(DIST, 'libs', 'read-model', 'src'));
  const readModel = new SqliteReadModel(join(dataDir, 'read-model.sqlite'));
  try {
    const profiles = new Map();
    for (const [environment, userId] of keys) profiles.set(`${environment}\u0000${userId}`, await readModel.findProfileJson(environment, userId));
    return { profiles, checkpoint: await readModel.getCheckpoint() };
  } finally {
    await readModel.close();
  }
}

/** Checks the ledger and the read model against the log; returns a list of problems (empty when all is well). */
function verify({ ledger, events, head, readModel, served }) {
  const domain = require(join(DIST, 'libs', 'users', 'src', 'domain'));
  const { toFact } = require(join(DIST, 'libs', 'users', 'src', 'projection', 'to-fact'));
  const problems = [];
  const problem = (text) => {
    if (problems.length < 50) problems.push(text);
  };

  // 1. Which requests the log holds, and how much of each.
  const upsertsByReq = new Map();
  const trackedByReq = new Map();
  const streams = new Map();
  for (const event of events) {
    const list = streams.get(event.stream) ?? [];
    list.push(event);
    streams.set(event.stream, list);
    if (event.type === domain.USER_UPSERTED) {
      const req = event.data.attributes.req;
      upsertsByReq.set(req, (upsertsByReq.get(req) ?? 0) + 1);
    } else if (event.type === domain.EVENT_TRACKED) {
      const req = `r${Math.floor(event.data.timestamp / 10)}`;
      trackedByReq.set(req, (trackedByReq.get(req) ?? 0) + 1);
    }
  }
  const counts = { acked: 0, answered: 0, noAnswer: 0, noAnswerInLog: 0, lost: 0, duplicated: 0, partial: 0, unexpectedStatus: 0 };
  // ECONNREFUSED: never reached a listening service. ECONNRESET and the like: cut off by the kill, maybe appended.
  const noAnswerBy = {};
  for (const entry of ledger) {
    const req = `r${entry.id}`;
    const upserts = upsertsByReq.get(req) ?? 0;
    const tracked = trackedByReq.get(req) ?? 0;
    const expectedTracked = entry.body.events.length;
    const stream = domain.visitorStream({ environment: entry.environment, userId: entry.body.userId });
    if (upserts > 1) {
      counts.duplicated++;
      problem(`request ${req} is in the log ${upserts} times`);
    }
    if (upserts === 1 && tracked !== expectedTracked) {
      counts.partial++;
      problem(`request ${req} has ${tracked} of its ${expectedTracked} tracked events in the log`);
    }
    if (upserts === 0 && tracked > 0) {
      counts.partial++;
      problem(`request ${req} has tracked events in the log but no UserUpserted`);
    }
    if (upserts === 1 && !(streams.get(stream) ?? []).some((e) => e.type === domain.USER_UPSERTED && e.data.attributes.req === req)) {
      problem(`request ${req} is in the log, but not in its stream ${stream}`);
    }
    if (entry.outcome === 'acked') {
      counts.acked++;
      if (upserts === 0) {
        counts.lost++;
        problem(`request ${req} was answered 202 but is not in the log`);
      }
    } else if (entry.outcome === 'answered') {
      counts.answered++;
      counts.unexpectedStatus++;
      problem(`request ${req} was answered ${entry.status}: ${entry.text}`);
    } else {
      counts.noAnswer++;
      if (upserts > 0) counts.noAnswerInLog++;
      noAnswerBy[entry.error] = (noAnswerBy[entry.error] ?? 0) + 1;
    }
  }

  // 2. Streams: revisions 0..n-1 without a gap; the log's positions strictly increase.
  let previous;
  for (const event of events) {
    if (previous !== undefined && !(event.position.commit > previous)) problem(`log positions do not increase at ${event.position.commit}`);
    previous = event.position.commit;
  }
  for (const [stream, list] of streams) {
    list.forEach((event, i) => {
      if (event.revision !== i) problem(`stream ${stream} has revision ${event.revision} at index ${i}`);
    });
  }

  // 3. The read model: the fold of each stream, and the counts read straight off the log.
  let checkedProfiles = 0;
  for (const [stream, list] of streams) {
    const key = domain.parseVisitorStream(stream);
    if (!key) continue;
    let profile;
    for (const event of list) {
      const fact = toFact(event);
      if (fact) profile = domain.evolve(profile, fact);
    }
    const expected = domain.toView(profile);
    const mapKey = `${key.environment}\u0000${key.userId}`;
    const stored = readModel.profiles.get(mapKey);
    checkedProfiles++;
    if (stored === undefined) {
      problem(`${stream}: no profile in the read model`);
      continue;
    }
    const actual = JSON.parse(stored);
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      problem(`${stream}: read model profile differs from the fold of the log\n  stored:   ${stored.slice(0, 400)}\n  expected: ${JSON.stringify(expected).slice(0, 400)}`);
    }
    const tally = new Map();
    for (const event of list) if (event.type === domain.EVENT_TRACKED) tally.set(event.data.event, (tally.get(event.data.event) ?? 0) + 1);
    for (const summary of actual.events) {
      if (summary.count !== tally.get(summary.event)) problem(`${stream}: "${summary.event}" counted ${summary.count}, the log holds ${tally.get(summary.event) ?? 0}`);
      tally.delete(summary.event);
    }
    for (const [name, count] of tally) problem(`${stream}: "${name}" is missing from the profile (the log holds ${count})`);
    const lastUpsert = [...list].reverse().find((e) => e.type === domain.USER_UPSERTED);
    if (actual.attributes.req !== lastUpsert.data.attributes.req) problem(`${stream}: attributes.req ${actual.attributes.req}, latest in the log ${lastUpsert.data.attributes.req}`);
    const servedBody = served.get(mapKey);
    if (servedBody !== stored) problem(`${stream}: GET served ${String(servedBody).slice(0, 200)}, the read model holds ${stored.slice(0, 200)}`);
  }
  for (const [mapKey, stored] of readModel.profiles) {
    const [environment, userId] = mapKey.split('\u0000');
    if (stored !== undefined && !streams.has(domain.visitorStream({ environment, userId }))) problem(`profile of ${environment}/${userId} has no stream in the log`);
  }
  const checkpoint = readModel.checkpoint;
  if (head !== undefined && (checkpoint === undefined || checkpoint.commit !== head.commit)) {
    problem(`read model checkpoint ${checkpoint?.commit} is not the head of the log ${head.commit}`);
  }
  return { problems, counts: { ...counts, noAnswerBy, events: events.length, streams: streams.size, profiles: checkedProfiles } };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
  const rnd = random(options.seed);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'visitorbase-crash-'));
  const port = await freePort();
  const started = Date.now();
  const ledger = [];
  let id = 0;
  const nextId = () => ++id;
  const restarts = [];
  let startupKills = 0;
  log(`seed ${options.seed}, ${options.kills} kills, ${options.concurrency} concurrent POSTs, data in ${dataDir}`);

  try {
    for (let kill = 1; kill <= options.kills; kill++) {
      const service = spawnService(dataDir, port);
      const spawnedAt = Date.now();
      if (rnd() < options.startupKillShare) {
        // Killed while starting: opening the stores, the projector catching up after the last crash.
        startupKills++;
        const ingest = startIngest({ port, concurrency: 4, visitors: options.visitors, rnd, ledger, nextId });
        await sleep(Math.floor(rnd() * 800));
        service.child.kill('SIGKILL');
        await service.exited;
        await ingest.stop();
        log(`kill ${kill}/${options.kills}: during start-up, ${Date.now() - spawnedAt} ms after spawn`);
        continue;
      }
      if (!(await waitUntilServing(service, port))) throw new Error(`service exited on its own:\n${service.output()}`);
      restarts.push(Date.now() - spawnedAt);
      const ingest = startIngest({ port, concurrency: options.concurrency, visitors: options.visitors, rnd, ledger, nextId });
      const uptime = options.minUptimeMs + Math.floor(rnd() * (options.maxUptimeMs - options.minUptimeMs));
      await sleep(uptime);
      service.child.kill('SIGKILL');
      const { signal } = await service.exited;
      await ingest.stop();
      if (signal !== 'SIGKILL') throw new Error(`service ended with ${signal} instead of being killed:\n${service.output()}`);
      log(`kill ${kill}/${options.kills}: after ${uptime} ms of ingest; ${ledger.filter((e) => e.outcome === 'acked').length} acknowledged so far`);
    }

    // A last start: recover, let the projection catch up, and read every profile over HTTP.
    const service = spawnService(dataDir, port);
    if (!(await waitUntilServing(service, port))) throw new Error(`service exited on its own:\n${service.output()}`);
    const visitorKeys = [];
    for (const environment of Object.keys(KEYS)) for (let v = 0; v < options.visitors; v++) visitorKeys.push([environment, `visitor/${v}`]);
    // Nothing is ingested any more; WAL lets this reader in beside the running service.
    const { events: logNow } = await readLog(dataDir);
    const expectedRequests = new Map();
    for (const e of logNow) if (e.type === 'UserUpserted') expectedRequests.set(e.stream, e.data.attributes.req);
    const served = new Map();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const deadline = Date.now() + 60_000;
    for (const [environment, userId] of visitorKeys) {
      const stream = `visitor-${environment}-${userId}`;
      for (;;) {
        const res = await request(agent, port, 'GET', `/v2/users/${encodeURIComponent(userId)}`, { key: KEYS[environment] });
        const wanted = expectedRequests.get(stream);
        // Caught up with this visitor once the profile shows the latest upsert of its stream.
        const done = wanted === undefined ? res.status === 404 : res.status === 200 && JSON.parse(res.text).attributes.req === wanted;
        if (done) {
          if (res.status === 200) served.set(`${environment}\u0000${userId}`, res.text);
          break;
        }
        if (Date.now() > deadline) throw new Error(`projection did not catch up with ${stream} within 60 s (last answer ${res.status} ${res.text?.slice(0, 200)})`);
        await sleep(20);
      }
    }
    agent.destroy();
    service.child.kill('SIGTERM');
    const stopped = await service.exited;
    if (stopped.code !== 0) throw new Error(`service exited with ${stopped.code ?? stopped.signal} on SIGTERM:\n${service.output()}`);

    const { events, head } = await readLog(dataDir);
    const readModel = await readModelState(dataDir, visitorKeys);
    const { problems, counts } = verify({ ledger, events, head, readModel, served });
    const summary = {
      ok: problems.length === 0,
      seed: options.seed,
      kills: options.kills,
      startupKills,
      concurrency: options.concurrency,
      requests: ledger.length,
      ...counts,
      medianRestartMs: restarts.length ? [...restarts].sort((a, b) => a - b)[Math.floor(restarts.length / 2)] : undefined,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      cpus: cpus().length,
      problems,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    if (!summary.ok) {
      log(`FAILED (data kept in ${dataDir}):\n  ${problems.join('\n  ')}`);
      options.keep = true;
      process.exitCode = 1;
    } else {
      log(`ok: ${counts.acked} acknowledged requests all in the log, ${counts.profiles} profiles exact, after ${options.kills} kills`);
    }
  } finally {
    if (!options.keep && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

module.exports = { verify, makeRequest };

if (require.main === module) {
  main().catch((error) => {
    log(error.stack || String(error));
    process.exit(1);
  });
}
