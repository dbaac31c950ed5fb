import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { tempDataDir } from './support';

const MAIN = join(__dirname, '../../dist/apps/api/src/main.js');

interface ServiceProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
}

/** Starts the built service as its own process, as `npm start` does. */
async function startService(dataDir: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" (npm test does it first)`);
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, NO_COLOR: '1', DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${output}`)), 20_000);
    const onData = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`service exited with ${code}:\n${output}`)));
  });
  return { child, url, output: () => output };
}

function stop(service: ServiceProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    if (service.child.exitCode !== null || service.child.signalCode !== null) return resolve(service.child.exitCode);
    service.child.once('exit', (code) => resolve(code));
    service.child.kill(signal);
  });
}

/** Polls GET until `accept` holds for the answer: the projection is asynchronous by contract. */
async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs the built service until it exits by itself: for starts that must fail. */
async function runToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  // 'close', not 'exit': by then both pipes have been read to their end.
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, output };
}

describe('the service as a process', () => {
  const data = tempDataDir();
  const services: ServiceProcess[] = [];
  afterAll(async () => {
    for (const service of services) await stop(service, 'SIGKILL');
    data.remove();
  });

  it('creates a development key on first start, shows it once, and keeps every profile across SIGKILL and restart', async () => {
    const first = await startService(data.dir);
    services.push(first);
    // On stderr, and "listening" on stdout: the two pipes are read in no set order.
    const key = (await eventually(async () => /Authorization: API-Key (\S+)/.exec(first.output())?.[1], (found) => found !== undefined, 5_000))!;
    const auth = { Authorization: `API-Key ${key}` };
    const visitors = 10;

    // Concurrent ingest; remember exactly which requests were acknowledged.
    let accepted = 0;
    const expectedCounts = new Array<number>(visitors).fill(0);
    await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const res = await request(first.url)
          .post('/v2/users')
          .set(auth)
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ userId: `v/${i % visitors}`, attributes: { last: i }, events: [{ event: 'Ping', timestamp: i }] }));
        if (res.status === 202) {
          accepted++;
          expectedCounts[i % visitors]++;
        }
      }),
    );
    expect(accepted).toBe(300);
    // Killed without any chance to flush: a 202 must already be on disk.
    expect(await stop(first, 'SIGKILL')).toBeNull();

    const second = await startService(data.dir);
    services.push(second);
    expect(second.output()).not.toContain('API-Key ');
    const profiles = new Map<number, string>();
    for (let v = 0; v < visitors; v++) {
      const res = await eventually(
        () => request(second.url).get(`/v2/users/${encodeURIComponent(`v/${v}`)}`).set(auth),
        (r) => r.status === 200 && r.body.events[0]?.count === expectedCounts[v],
      );
      profiles.set(v, res.text);
    }

    // A clean restart serves byte-identical profiles, and counts nothing twice.
    expect(await stop(second, 'SIGTERM')).toBe(0);
    const third = await startService(data.dir);
    services.push(third);
    for (let v = 0; v < visitors; v++) {
      const res = await request(third.url).get(`/v2/users/${encodeURIComponent(`v/${v}`)}`).set(auth);
      expect(res.status).toBe(200);
      expect(res.text).toBe(profiles.get(v));
    }
    await request(third.url)
      .post('/v2/users')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ userId: 'v/0', events: [{ event: 'Ping', timestamp: 1 }] }))
      .expect(202);
    await eventually(
      () => request(third.url).get('/v2/users/v%2F0').set(auth),
      (r) => r.status === 200 && r.body.events[0].count === expectedCounts[0] + 1,
    );
  });

  it('shows the development key it made even when the start then fails, so that it is never lost', async () => {
    const own = tempDataDir();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const failed = await runToExit({ DATA_DIR: own.dir, PORT: String(port), HOST: '127.0.0.1' });
      expect(failed.code).toBe(1);
      // One line says why, without a stack.
      expect(failed.output).toContain(`visitorbase: failed to start: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
      expect(failed.output).not.toMatch(/^\s+at /m);
      const key = /Authorization: API-Key (\S+)/.exec(failed.output)?.[1];
      expect(key).toBeDefined();
      // The next start makes no other key: the one shown is the one kept.
      const next = await startService(own.dir);
      services.push(next);
      expect(next.output()).not.toContain('API-Key ');
      await request(next.url).get('/v2/users/nobody').set({ Authorization: `API-Key ${key}` }).expect(404);
    } finally {
      taken.close();
      own.remove();
    }
  });

  it('names the store it cannot open, in one line on stderr, whatever the log level', async () => {
    const own = tempDataDir();
    try {
      writeFileSync(join(own.dir, 'events.sqlite'), 'not a database');
      const failed = await runToExit({ DATA_DIR: own.dir, PORT: '0', API_KEYS: 'development:k1', LOG_LEVEL: 'silent' });
      expect(failed).toEqual({ code: 1, output: `visitorbase: cannot open the event store, SQLite at ${join(own.dir, 'events.sqlite')}: file is not a database\n` });
    } finally {
      own.remove();
    }
  });

  it('refuses to start on a malformed API_KEYS, without echoing it', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, NO_COLOR: '1', DATA_DIR: data.dir, PORT: '0', API_KEYS: 'secret-without-environment' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toContain('API_KEYS entry 1 must look like environment:key');
    expect(output).not.toContain('secret-without-environment');
  });
});
