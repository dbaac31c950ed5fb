import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import request from 'supertest';
import { SqliteEventStore } from '@visitorbase/event-store';
import { SqliteReadModel } from '@visitorbase/read-model';
import { USER_UPSERTED, rebuildReadModel } from '@visitorbase/users';
import { DEV_KEY, PROD_KEY, RunningApp, startApp, tempDataDir } from './support';

const CLI = join(__dirname, '../../dist/apps/cli/src/main.js');
const dev = { Authorization: `API-Key ${DEV_KEY}` };
const prod = { Authorization: `API-Key ${PROD_KEY}` };

function cli(dataDir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return cliWith({}, dataDir, ...args);
}

/** The same, with more variables in the environment and, optionally, another working directory. */
function cliWith(
  { env = {}, cwd }: { env?: NodeJS.ProcessEnv; cwd?: string },
  dataDir: string,
  ...args: string[]
): { status: number | null; stdout: string; stderr: string } {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it first)`);
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, DATA_DIR: dataDir, NO_COLOR: '1', ...env },
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The same, without blocking this process: the in-process service keeps answering meanwhile. */
function cliAsync(dataDir: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, DATA_DIR: dataDir, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout, stderr })));
}

const lines = (text: string) => (text === '' ? [] : text.trimEnd().split('\n').map((l) => JSON.parse(l)));

describe('the visitorbase command line', () => {
  const data = tempDataDir();
  let running: RunningApp;
  let http: ReturnType<typeof request>;
  const visitors = 200;

  const profiles = async (): Promise<Map<string, string>> => {
    const all = new Map<string, string>();
    for (let v = 0; v < visitors; v++) {
      const res = await http.get(`/v2/users/${encodeURIComponent(`user ${v}/x`)}`).set(dev);
      expect(res.status).toBe(200);
      all.set(`user ${v}/x`, res.text);
    }
    return all;
  };

  beforeAll(async () => {
    running = await startApp(data.dir);
    http = request(running.url);
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: visitors }, (_, v) =>
          http
            .post('/v2/users')
            .set(dev)
            .set('Content-Type', 'application/json')
            .send(
              JSON.stringify({
                userId: `user ${v}/x`,
                attributes: { round, 'a.b': v, ...(round === 0 ? { first: true } : {}) },
                events: [{ event: `E${v % 3}`, timestamp: 1000 - round * 10 + v }, { event: 'Seen' }],
                ...(round === 4 ? { emailAddress: `u${v}@example.com` } : {}),
              }),
            )
            .expect(202),
        ),
      );
    }
    await http.post('/v2/users').set(prod).set('Content-Type', 'application/json').send('{"userId":"other"}').expect(202);
    await running.caughtUp();
  });
  afterAll(async () => {
    await running?.close();
    data.remove();
  });

  it('prints help for every command', () => {
    for (const args of [['--help'], ['replay', '--help'], ['projections', '--help'], ['projections', 'status', '--help'], ['projections', 'rebuild', '--help'], ['keys', '--help'], ['keys', 'create', '--help']]) {
      const out = cli(data.dir, ...args);
      expect(out.status).toBe(0);
      expect(out.stdout).toMatch(/^Usage: visitorbase/);
    }
    const wrong = cli(data.dir, 'replay', '--nope');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("Unknown option '--nope'");
  });

  it('replays every event in global order, data byte for byte as stored, and nothing else on stdout', () => {
    const out = cli(data.dir, 'replay');
    expect(out.status).toBe(0);
    const all = lines(out.stdout);
    expect(all).toHaveLength(5 * visitors * 3 + 1);
    const db = new Database(join(data.dir, 'events.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT position, stream, revision, type, data, recorded_at FROM events ORDER BY position').all() as Array<{
        position: number;
        stream: string;
        revision: number;
        type: string;
        data: string;
        recorded_at: number;
      }>;
      expect(all.map((l) => [Number(l.position), l.stream, l.revision, l.type, JSON.stringify(l.data), l.recordedAt])).toEqual(
        rows.map((r) => [r.position, r.stream, r.revision, r.type, r.data, r.recorded_at]),
      );
    } finally {
      db.close();
    }
  });

  it('filters exactly what it says', () => {
    const all = lines(cli(data.dir, 'replay').stdout);
    const pick = (...args: string[]) => lines(cli(data.dir, 'replay', ...args).stdout);
    expect(pick('--env', 'production')).toEqual(all.filter((l) => l.environment === 'production'));
    expect(pick('--env', 'development', '--user', 'user 7/x')).toEqual(all.filter((l) => l.environment === 'development' && l.userId === 'user 7/x'));
    expect(pick('--user', 'user 7/x')).toEqual(all.filter((l) => l.userId === 'user 7/x'));
    expect(pick('--type', 'UserUpserted')).toEqual(all.filter((l) => l.type === 'UserUpserted'));
    const mid = all[Math.floor(all.length / 2)];
    expect(pick('--from-position', mid.position)).toEqual(all.filter((l) => Number(l.position) > Number(mid.position)));
    expect(pick('--since', String(mid.recordedAt))).toEqual(all.filter((l) => l.recordedAt >= mid.recordedAt));
    expect(pick('--until', new Date(mid.recordedAt).toISOString())).toEqual(all.filter((l) => l.recordedAt < mid.recordedAt));
    expect(pick('--limit', '3', '--type', 'EventTracked')).toEqual(all.filter((l) => l.type === 'EventTracked').slice(0, 3));
    const file = join(data.dir, 'out.ndjson');
    expect(cli(data.dir, 'replay', '--out', file, '--env', 'production').stdout).toBe('');
    expect(lines(readFileSync(file, 'utf8'))).toEqual(all.filter((l) => l.environment === 'production'));
    // Through `npm run cli`, which runs it from the package's root, a relative --out is from where it was typed.
    const typedIn = join(data.dir, 'typed-in');
    mkdirSync(typedIn);
    const viaNpm = cliWith({ env: { npm_lifecycle_event: 'cli', INIT_CWD: typedIn }, cwd: data.dir }, data.dir, 'replay', '--out', 'rel.ndjson', '--limit', '3');
    expect(viaNpm.status).toBe(0);
    expect(lines(readFileSync(join(typedIn, 'rel.ndjson'), 'utf8'))).toEqual(all.slice(0, 3));
    expect(existsSync(join(data.dir, 'rel.ndjson'))).toBe(false);
    // Run any other way, from its own working directory, whatever INIT_CWD an outer npm left behind.
    expect(cliWith({ env: { INIT_CWD: typedIn }, cwd: data.dir }, data.dir, 'replay', '--out', 'rel.ndjson', '--limit', '2').status).toBe(0);
    expect(lines(readFileSync(join(data.dir, 'rel.ndjson'), 'utf8'))).toEqual(all.slice(0, 2));
    const bad = cli(data.dir, 'replay', '--since', 'yesterday', '--limit', '0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--since must be milliseconds since the epoch or an ISO 8601 time');
  });

  it('says so when a replay is interrupted, exits 128 + the signal, and names the position to resume from', async () => {
    const all = cli(data.dir, 'replay').stdout;
    const child = spawn(process.execPath, [CLI, 'replay'], { env: { PATH: process.env.PATH, DATA_DIR: data.dir } });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    // 'close', not 'exit': by then every byte of both pipes has been read.
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    // Not read yet: the replay fills the pipe and waits for it to drain, part-way through the log.
    await new Promise((resolve) => child.stdout.once('readable', resolve));
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGTERM');
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    // 128 + 15, as a shell reports a process ended by SIGTERM.
    expect(await exited).toBe(143);
    const said = /^replay interrupted after (\d+) events; resume with --from-position (\S+)$/m.exec(stderr);
    expect(said).not.toBeNull();
    const got = lines(stdout);
    expect(got.length).toBe(Number(said![1]));
    expect(got.length).toBeLessThan(lines(all).length);
    expect(got[got.length - 1].position).toBe(said![2]);
    // What was written, then the rest from the position named, is the whole log.
    expect(stdout + cli(data.dir, 'replay', '--from-position', said![2]).stdout).toBe(all);
  });

  it('refuses a data directory without an event store rather than making empty stores in it', () => {
    const typo = join(data.dir, 'no-such-data-dir');
    for (const args of [['replay'], ['projections', 'status'], ['projections', 'rebuild', '--dry-run'], ['projections', 'rebuild']]) {
      const out = cli(typo, ...args);
      expect({ args, status: out.status, stderr: out.stderr }).toEqual({
        args,
        status: 1,
        stderr: `visitorbase: no event store in ${typo} (no events.sqlite): set DATA_DIR to the service's data directory\n`,
      });
    }
    expect(existsSync(typo)).toBe(false);
  });

  it('resumes into the same file with --append, and leaves a file alone when the store cannot be opened', () => {
    const all = cli(data.dir, 'replay').stdout;
    const file = join(data.dir, 'resumed.ndjson');
    expect(cli(data.dir, 'replay', '--out', file, '--limit', '5').status).toBe(0);
    const fifth = lines(readFileSync(file, 'utf8'))[4].position;
    expect(cli(data.dir, 'replay', '--out', file, '--append', '--from-position', fifth).status).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(all);
    // The store is opened first: a mistyped data directory does not empty the file.
    expect(cli(join(data.dir, 'no-such-data-dir'), 'replay', '--out', file).status).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe(all);
    expect(cli(data.dir, 'replay', '--append').status).toBe(2);
  });

  it('reports a file it cannot write as an error, without a stack trace', () => {
    const out = cli(data.dir, 'replay', '--out', join(data.dir, 'no-such-dir', 'out.ndjson'));
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/^visitorbase: ENOENT: no such file or directory, open '.*no-such-dir.*out\.ndjson'\n$/);
  });

  it('names what it wrote and where to resume when the log or the output fails part-way', async () => {
    const own = tempDataDir();
    try {
      const store = new SqliteEventStore(join(own.dir, 'events.sqlite'));
      await Promise.all(
        Array.from({ length: 2_500 }, (_, i) =>
          store.append(`visitor-development-u${i}`, [{ id: randomUUID(), type: USER_UPSERTED, data: { userId: `u${i}`, receivedAt: i, attributes: {} } }], 'any'),
        ),
      );
      await store.close();
      // One stored event that cannot be read back, past the first page of the log.
      const db = new Database(join(own.dir, 'events.sqlite'));
      db.prepare("UPDATE events SET data = '{bad' WHERE position = 2200").run();
      db.close();
      const file = join(own.dir, 'out.ndjson');
      const broken = cli(own.dir, 'replay', '--out', file);
      expect(broken.status).toBe(1);
      const said = /^visitorbase: reading the event store failed after (\d+) events written to \S+; resume with --from-position (\d+) --append: /.exec(broken.stderr);
      expect(said).not.toBeNull();
      const got = lines(readFileSync(file, 'utf8'));
      expect([got.length, got[got.length - 1].position]).toEqual([Number(said![1]), said![2]]);
      expect(got.length).toBeGreaterThan(0);
      // A device that takes nothing: no line is counted as written.
      const full = cli(own.dir, 'replay', '--out', '/dev/full', '--limit', '10');
      expect(full.status).toBe(1);
      expect(full.stderr).toMatch(/^visitorbase: writing \/dev\/full failed after 0 events written to \/dev\/full: ENOSPC/);
      // A file that stops growing part-way (a size limit here, a full disk elsewhere): the file keeps the
      // lines counted, none torn, and resuming where it says gives the whole replay.
      const capped = join(own.dir, 'capped.ndjson');
      const limited = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 100; exec "${process.execPath}" "${CLI}" replay --out "${capped}" --limit 800`], {
        env: { PATH: process.env.PATH, DATA_DIR: own.dir },
        encoding: 'utf8',
      });
      expect(limited.status).toBe(1);
      const stopped = /failed after (\d+) events written to \S+; resume with --from-position (\d+) --append: EFBIG/.exec(limited.stderr);
      expect(stopped).not.toBeNull();
      const kept = lines(readFileSync(capped, 'utf8'));
      expect([kept.length, kept[kept.length - 1].position]).toEqual([Number(stopped![1]), stopped![2]]);
      const resumed = cli(own.dir, 'replay', '--out', capped, '--append', '--from-position', stopped![2], '--limit', String(800 - kept.length));
      expect([resumed.status, resumed.stderr]).toEqual([0, `replay: ${800 - kept.length} events written to ${capped}\n`]);
      expect(readFileSync(capped, 'utf8')).toBe(cli(own.dir, 'replay', '--limit', '800').stdout);
      // The same through a shell's redirection of stdout to a file, which Node writes synchronously.
      const redirected = join(own.dir, 'redirected.ndjson');
      const shell = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 100; exec "${process.execPath}" "${CLI}" replay --limit 800 > "${redirected}"`], {
        env: { PATH: process.env.PATH, DATA_DIR: own.dir },
        encoding: 'utf8',
      });
      const shortOf = /^visitorbase: writing stdout failed after (\d+) events; resume with --from-position (\d+): EFBIG/;
      expect(shell.stderr).toMatch(shortOf);
      const cutShort = shortOf.exec(shell.stderr);
      const whole = readFileSync(redirected, 'utf8');
      expect(whole.endsWith('\n')).toBe(true);
      expect(lines(whole).length).toBe(Number(cutShort![1]));
      // To stdout, the count is of the lines written, whatever their number.
      expect(cli(own.dir, 'replay', '--limit', '5').stderr).toBe('replay: 5 events\n');
    } finally {
      own.remove();
    }
  });

  it('follows new events as they are appended, until interrupted', async () => {
    const last = lines(cli(data.dir, 'replay').stdout).pop();
    const child = spawn(process.execPath, [CLI, 'replay', '--follow', '--env', 'development', '--from-position', last.position], {
      env: { PATH: process.env.PATH, DATA_DIR: data.dir },
    });
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    await http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send('{"userId":"followed","events":[{"event":"Live","timestamp":7}]}').expect(202);
    const deadline = Date.now() + 10_000;
    while (stdout.split('\n').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const got = lines(stdout);
    expect(got.map((l) => [l.userId, l.type, l.data.event])).toEqual([
      ['followed', 'UserUpserted', undefined],
      ['followed', 'EventTracked', 'Live'],
    ]);
    // Where it stood, for the next follow to go on from.
    expect(stderr).toBe(`replay: 2 events; resume with --from-position ${got[1].position}\n`);
  });

  it('follows until the time given, then ends, also when that time is already past', async () => {
    const all = lines(cli(data.dir, 'replay').stdout);
    const past = cli(data.dir, 'replay', '--follow', '--until', String(all[3].recordedAt + 1));
    expect(past.status).toBe(0);
    expect(lines(past.stdout)).toEqual(all.filter((l) => l.recordedAt <= all[3].recordedAt));
    // Half a second from now: what is appended before then is followed, and then the replay ends.
    const until = Date.now() + 500;
    const following = cliAsync(data.dir, 'replay', '--follow', '--env', 'development', '--user', 'until-soon', '--until', String(until));
    await http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send('{"userId":"until-soon"}').expect(202);
    const done = await following;
    expect(done.status).toBe(0);
    expect(lines(done.stdout).map((l) => [l.userId, l.type])).toEqual([['until-soon', 'UserUpserted']]);
  });

  it('reports the projection status', async () => {
    await running.caughtUp();
    const head = lines(cli(data.dir, 'replay').stdout).pop().position;
    const out = cli(data.dir, 'projections', 'status', '--json');
    expect(out.status).toBe(0);
    const status = JSON.parse(out.stdout);
    expect(status).toEqual(expect.objectContaining({ activeVersion: 1, buildingVersion: null, lagEvents: 0, lagMs: 0, head }));
    expect(status.checkpoint).toBe(status.head);
    expect(cli(data.dir, 'projections', 'status').stdout).toContain('lag                 0 events, 0 ms');
  });

  it('rebuilds beside the live read model, resumes after an interruption, and switches to identical profiles while reads go on', async () => {
    const before = await profiles();
    const dry = cli(data.dir, 'projections', 'rebuild', '--dry-run');
    expect(dry.stdout).toContain('would rebuild the read model into version 2 from the start of the log');
    expect(JSON.parse(cli(data.dir, 'projections', 'status', '--json').stdout).buildingVersion).toBeNull();

    // A rebuild that stops after a few pages, as an interrupted one would.
    const events = new SqliteEventStore(join(data.dir, 'events.sqlite'));
    const readModel = new SqliteReadModel(join(data.dir, 'read-model.sqlite'));
    const abort = new AbortController();
    let pages = 0;
    const target = await readModel.beginRebuild();
    await rebuildReadModel(events, readModel.version(target), {
      pageSize: 100,
      signal: abort.signal,
      onProgress: () => ++pages === 3 && abort.abort(),
    });
    await events.close();
    await readModel.close();
    const status = JSON.parse(cli(data.dir, 'projections', 'status', '--json').stdout);
    expect(status).toEqual(expect.objectContaining({ activeVersion: 1, buildingVersion: 2, buildingCheckpoint: '300' }));
    expect(cli(data.dir, 'projections', 'rebuild', '--dry-run').stdout).toContain('would resume rebuilding version 2 from 300');

    // Reads keep answering from the live version during the rebuild.
    let reading = true;
    const readStatuses: number[] = [];
    const reader = (async () => {
      while (reading) readStatuses.push((await http.get('/v2/users/user%203%2Fx').set(dev)).status);
    })();
    const rebuild = await cliAsync(data.dir, 'projections', 'rebuild');
    reading = false;
    await reader;
    expect(rebuild.stderr).toContain('rebuilding read model version 2 from 300');
    expect(rebuild.status).toBe(0);
    expect(rebuild.stdout).toContain('read model version 2 is active');
    expect(readStatuses.length).toBeGreaterThan(1);
    expect(new Set(readStatuses)).toEqual(new Set([200]));
    expect(JSON.parse(cli(data.dir, 'projections', 'status', '--json').stdout)).toEqual(
      expect.objectContaining({ activeVersion: 2, buildingVersion: null, lagEvents: 0 }),
    );
    expect(await profiles()).toEqual(before);

    // The live projector follows the new version.
    await http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send('{"userId":"user 3/x","events":[{"event":"After","timestamp":1}]}').expect(202);
    await running.caughtUp();
    const after = JSON.parse((await http.get('/v2/users/user%203%2Fx').set(dev)).text);
    expect(after.events[0]).toEqual({ event: 'After', count: 1, createdAt: 1, updatedAt: 1 });
    expect(after.id).toBe(JSON.parse(before.get('user 3/x')!).id);
  });

  it('creates keys that are stored only as hashes', () => {
    const out = cli(data.dir, 'keys', 'create', '--env', 'staging');
    expect(out.status).toBe(0);
    const key = /API-Key (\S+)/.exec(out.stdout)![1];
    expect(out.stdout).toContain(`staging:${key}`);
    const file = readFileSync(join(data.dir, 'api-keys.json'), 'utf8');
    expect(file).not.toContain(key);
    expect(JSON.parse(file).keys).toEqual([expect.objectContaining({ environment: 'staging' })]);
    // Beside a service's stores, nothing to warn of; elsewhere (a mistyped DATA_DIR?), said once the key is made.
    expect(out.stderr).toBe('');
    const elsewhere = join(data.dir, 'not-a-service-dir');
    const typo = cli(elsewhere, 'keys', 'create', '--env', 'staging');
    expect(typo.status).toBe(0);
    expect(typo.stderr).toBe(
      `warning: no event store in ${elsewhere} (no events.sqlite): set DATA_DIR to the service's data directory; no service has run with it yet, and one started later with it will accept the key\n`,
    );
    // With both stores on servers, the key file is all a service keeps there: a directory that did not exist is said.
    const remote = join(data.dir, 'remote-typo');
    const onServers = spawnSync(process.execPath, [CLI, 'keys', 'create', '--env', 'production'], {
      env: { PATH: process.env.PATH, DATA_DIR: remote, EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://127.0.0.1:1?tls=false', READ_MODEL: 'mongodb', MONGODB_URL: 'mongodb://127.0.0.1:1/x' },
      encoding: 'utf8',
    });
    expect([onServers.status, onServers.stderr]).toEqual([0, `warning: ${remote} did not exist; no service has run with it yet, and one started later with it will accept the key\n`]);
    expect(cli(data.dir, 'keys', 'create').status).toBe(2);
    // A mistake in how the command was called, like a missing --env: exit 2.
    const bad = cli(data.dir, 'keys', 'create', '--env', 'bad-env');
    expect([bad.status, bad.stderr]).toEqual([2, 'visitorbase: --env must be 1 to 64 letters, digits and _, got "bad-env"\n']);
  });

  it('makes a key that a running service without API_KEYS accepts, with no restart', async () => {
    const own = tempDataDir();
    const service = await startApp(own.dir, { apiKeys: undefined });
    try {
      const out = cli(own.dir, 'keys', 'create', '--env', 'staging');
      expect(out.status).toBe(0);
      expect(out.stdout).toContain('a running service accepts it within a second');
      const staging = { Authorization: `API-Key ${/API-Key (\S+)/.exec(out.stdout)![1]}` };
      const deadline = Date.now() + 5_000;
      let status = 0;
      // 404: the key was accepted, and the visitor is unknown.
      while ((status = (await request(service.url).get('/v2/users/nobody').set(staging)).status) === 401 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe(404);
      expect((await request(service.url).get('/v2/users/nobody').set(dev)).status).toBe(401);
    } finally {
      await service.close();
      own.remove();
    }
  });
});

describe('a read model built from another log', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it('is reported by status, readiness and rebuild, with what to do, and doing it projects the log there', async () => {
    const upsert = (userId: string) => ({ id: randomUUID(), type: USER_UPSERTED, data: { userId, receivedAt: 1, attributes: {} } });
    // A read model folded from five events; then the log is replaced by one of a single event,
    // as when an older copy of the event store is restored beside it.
    const before = new SqliteEventStore(join(data.dir, 'events.sqlite'));
    for (let i = 0; i < 5; i++) await before.append(`visitor-development-old${i}`, [upsert(`old${i}`)], 'any');
    const readModel = new SqliteReadModel(join(data.dir, 'read-model.sqlite'));
    await rebuildReadModel(before, readModel);
    await readModel.close();
    await before.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(data.dir, `events.sqlite${suffix}`), { force: true });
    const after = new SqliteEventStore(join(data.dir, 'events.sqlite'));
    await after.append('visitor-development-new', [upsert('new')], 'any');
    await after.close();

    const status = cli(data.dir, 'projections', 'status');
    expect(status.status).toBe(1);
    expect(status.stdout).toContain('checkpoint          5\nhead of the log     1\n');
    expect(status.stderr).toContain('the checkpoint is past the head of the log: the read model was built from another event store: stop the service, remove its read model');
    const json = cli(data.dir, 'projections', 'status', '--json');
    expect([json.status, JSON.parse(json.stdout).aheadOfLog]).toEqual([1, true]);
    const rebuild = cli(data.dir, 'projections', 'rebuild');
    expect(rebuild.status).toBe(1);
    expect(rebuild.stderr).toContain('the active read model version 1 is past the head of the log: the read model was built from another event store');

    const running = await startApp(data.dir);
    try {
      const ready = await request(running.url).get('/health/ready').expect(503);
      expect(ready.body.error.projection.message).toMatch(/^the checkpoint is past the head of the log; /);
    } finally {
      await running.close();
    }

    // What the message says: without its read model, the service projects this log from its start.
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(data.dir, `read-model.sqlite${suffix}`), { force: true });
    const fresh = await startApp(data.dir);
    try {
      await fresh.caughtUp();
      expect((await request(fresh.url).get('/v2/users/new').set(dev)).status).toBe(200);
      await request(fresh.url).get('/health/ready').expect(200);
    } finally {
      await fresh.close();
    }
    expect(cli(data.dir, 'projections', 'status').status).toBe(0);
  });
});
