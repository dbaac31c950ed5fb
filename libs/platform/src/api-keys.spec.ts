import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KeyRing, addKeyToDataDir, followKeyFile, hashKey, sameDigest, withKeyFileLock } from './api-keys';
import { ConfigError } from './config';

describe('KeyRing', () => {
  it('maps each key of API_KEYS to its environment', () => {
    const ring = KeyRing.fromApiKeysVariable(' production:KEY1 , development:KEY2,');
    expect(ring.authenticate('API-Key KEY1')).toBe('production');
    expect(ring.authenticate('API-Key KEY2')).toBe('development');
    expect(ring.authenticate('api-key KEY2')).toBe('development');
    expect(ring.environments).toEqual(['production', 'development']);
  });

  it('tells apart two keys of the same environment, without revealing either', () => {
    const ring = KeyRing.fromApiKeysVariable('production:KEY1,production:KEY2,development:KEY3');
    expect(ring.identify('API-Key KEY1')).toEqual({ environment: 'production', keyId: 0 });
    expect(ring.identify('API-Key KEY2')).toEqual({ environment: 'production', keyId: 1 });
    expect(ring.identify('API-Key KEY3')).toEqual({ environment: 'development', keyId: 2 });
    expect(ring.identify('API-Key KEY4')).toBeUndefined();
  });

  it('compares a presented key with every stored digest, all of each, whether and wherever it matches', () => {
    const ring = KeyRing.fromApiKeysVariable('production:KEY1,production:KEY2,development:KEY3');
    const read = jest.spyOn(String.prototype, 'charCodeAt');
    try {
      for (const header of ['API-Key KEY1', 'API-Key KEY3', 'API-Key nope', `API-Key ${'x'.repeat(500)}`]) {
        read.mockClear();
        ring.identify(header);
        // No early exit: every character of both hex digests, for each of the three keys, so the
        // time taken does not tell which key, or how much of one, matched.
        expect(read).toHaveBeenCalledTimes(3 * 2 * 64);
      }
    } finally {
      read.mockRestore();
    }
  });

  it('hashes keys to lowercase hex SHA-256, and tells digests apart wherever they differ', () => {
    const digest = createHash('sha256').update('vb_ключ', 'utf8').digest('hex');
    expect(hashKey('vb_ключ')).toBe(digest);
    expect(sameDigest(digest, digest)).toBe(true);
    const flip = (at: number) => digest.slice(0, at) + (digest[at] === '0' ? '1' : '0') + digest.slice(at + 1);
    for (const at of [0, 31, 63]) expect(sameDigest(digest, flip(at))).toBe(false);
    expect(sameDigest(digest, digest.slice(0, 63))).toBe(false);
    expect(sameDigest('', '')).toBe(true);
  });

  it('accepts digests written in uppercase hex into the key file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'visitorbase-keys-upper-'));
    try {
      writeFileSync(join(dir, 'api-keys.json'), JSON.stringify({ keys: [{ environment: 'production', sha256: hashKey('KEY1').toUpperCase() }] }));
      const { ring } = KeyRing.fromDataDir(dir);
      expect(ring.authenticate('API-Key KEY1')).toBe('production');
      expect(ring.authenticate('API-Key KEY2')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a colon inside a key', () => {
    expect(KeyRing.fromApiKeysVariable('production:a:b').authenticate('API-Key a:b')).toBe('production');
  });

  it('refuses missing, unknown and malformed credentials', () => {
    const ring = KeyRing.fromApiKeysVariable('production:KEY1');
    for (const header of [undefined, '', 'KEY1', 'API-Key', 'API-Key ', 'Bearer KEY1', 'API-Key KEY2', 'API-Key KEY1 extra', 'API-Key key1']) {
      expect(ring.authenticate(header)).toBeUndefined();
    }
  });

  it('rejects a malformed API_KEYS without echoing what it holds', () => {
    for (const bad of ['justakey', ':key', 'prod-env:key', 'production:', ',', 'bad env:key']) {
      let error: unknown;
      try {
        KeyRing.fromApiKeysVariable(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      if (bad.includes('key')) expect((error as Error).message).not.toContain('key:');
    }
  });

  it('refuses in API_KEYS one key for two environments, and a key no header could carry', () => {
    const said = (text: string) => {
      try {
        KeyRing.fromApiKeysVariable(text);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${text}`);
    };
    // It would always open the first environment: the second could never be reached.
    expect(said('development:same,production:other,staging:same')).toBe('API_KEYS entries 1 and 3 hold the same key: a key opens one environment');
    for (const unsendable of ['development:has space', 'development:clé', 'development:tab\there']) {
      expect(said(unsendable)).toBe('API_KEYS entry 1: a key is visible ASCII characters, without spaces');
    }
    expect(KeyRing.fromApiKeysVariable('development:a!~Z9').authenticate('API-Key a!~Z9')).toBe('development');
  });

  it('names the key file when it is not JSON of its shape, to the service and to "keys create" alike', () => {
    const dir = mkdtempSync(join(tmpdir(), 'visitorbase-keys-'));
    try {
      const file = join(dir, 'api-keys.json');
      writeFileSync(file, '{"keys": [');
      const notJson = new ConfigError(`${file} is not valid JSON (Unexpected end of JSON input)`);
      expect(() => KeyRing.fromDataDir(dir)).toThrow(notJson);
      expect(() => addKeyToDataDir(dir, 'production')).toThrow(notJson);
      writeFileSync(file, '{"keys": {"a": 1}}');
      const notShaped = new ConfigError(`${file} must hold {"keys": [{"environment": ..., "sha256": ...}, ...]}`);
      expect(() => KeyRing.fromDataDir(dir)).toThrow(notShaped);
      expect(() => addKeyToDataDir(dir, 'production')).toThrow(notShaped);
      expect(readFileSync(file, 'utf8')).toBe('{"keys": {"a": 1}}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('creates one development key on the first start, keeps only its hash, and reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'visitorbase-keys-'));
    try {
      const first = KeyRing.fromDataDir(dir);
      expect(first.createdKey).toMatch(/^vb_[A-Za-z0-9_-]{32}$/);
      const file = readFileSync(join(dir, 'api-keys.json'), 'utf8');
      expect(file).not.toContain(first.createdKey!);
      expect(file).toContain(hashKey(first.createdKey!));
      expect(statSync(join(dir, 'api-keys.json')).mode & 0o777).toBe(0o600);
      const second = KeyRing.fromDataDir(dir);
      expect(second.createdKey).toBeUndefined();
      expect(second.ring.authenticate(`API-Key ${first.createdKey}`)).toBe('development');
      expect(second.ring.authenticate('API-Key vb_other')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('several processes on one data directory', () => {
    const built = join(__dirname, '../../../dist/libs/platform/src/api-keys.js');
    let dir: string;
    let file: string;
    beforeEach(() => {
      if (!existsSync(built)) throw new Error(`${built} is missing: run "npm run build" (npm test does it first)`);
      dir = mkdtempSync(join(tmpdir(), 'visitorbase-keys-race-'));
      file = join(dir, 'api-keys.json');
    });
    // Every child is killed after its test, whatever happened: none is left spinning or waiting.
    let children: Child[] = [];
    afterEach(() => {
      for (const c of children) c.kill();
      children = [];
      rmSync(dir, { recursive: true, force: true });
    });

    interface Child {
      /** Resolves once the child has printed `text`; rejects if it exits first. */
      readonly printed: (text: string) => Promise<void>;
      /** What the child printed after "ready", parsed, once it exited 0. */
      readonly result: Promise<unknown>;
      readonly exited: () => boolean;
      readonly kill: () => void;
    }

    /**
     * Runs `body` in a new process where `keys` is the built module and `dir`
     * the data directory. It prints "ready" once loaded, then waits for the
     * file `go` to appear if one is named.
     */
    const child = (body: string, go?: string): Child => {
      // The barrier polls every millisecond rather than spinning, so that six children waiting do not starve the rest.
      const wait =
        go === undefined ? '' : `while (!require('node:fs').existsSync(${JSON.stringify(go)})) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);`;
      const script = `const keys = require(${JSON.stringify(built)}); const dir = ${JSON.stringify(dir)};
        process.stdout.write('ready\\n'); ${wait}
        ${body}`;
      const proc = spawn(process.execPath, ['-e', script]);
      let out = '';
      let err = '';
      let exited = false;
      const waiters: Array<() => void> = [];
      proc.stdout.on('data', (chunk) => {
        out += chunk;
        for (const waiter of waiters) waiter();
      });
      proc.stderr.on('data', (chunk) => (err += chunk));
      const result = new Promise<unknown>((resolve, reject) =>
        proc.once('exit', (code) => {
          exited = true;
          if (code !== 0) return reject(new Error(`exit ${code}: ${err}`));
          try {
            resolve(JSON.parse(out.slice('ready\n'.length)));
          } catch (error) {
            reject(error);
          }
        }),
      );
      // Handled here too: a child killed after a failed test leaves no unhandled rejection behind.
      result.catch(() => undefined);
      const printed = (text: string) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (out.includes(text)) resolve();
            else if (exited) reject(new Error(`the child exited before printing ${JSON.stringify(text)}: ${err}`));
          };
          waiters.push(check);
          check();
        });
      proc.once('exit', () => {
        for (const waiter of waiters) waiter();
      });
      const made: Child = {
        printed,
        result,
        exited: () => exited,
        kill: () => {
          if (!exited) proc.kill('SIGKILL');
        },
      };
      children.push(made);
      return made;
    };

    /** Starts `count` children, lets them all go at once when every one has loaded, and resolves to their results. */
    const race = async (count: number, body: string): Promise<unknown[]> => {
      const go = join(dir, 'go');
      const children = Array.from({ length: count }, () => child(body, go));
      await Promise.all(children.map((c) => c.printed('ready\n')));
      writeFileSync(go, '');
      const results = await Promise.all(children.map((c) => c.result));
      rmSync(go);
      return results;
    };

    /** Holds the key file's lock from this process until the returned function is called. */
    const holdLock = (): (() => void) => {
      const lock = new Database(`${file}.lock`);
      lock.exec('BEGIN IMMEDIATE');
      return () => {
        if (!lock.open) return;
        lock.exec('COMMIT');
        lock.close();
      };
    };
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const firstStart = `const { ring, createdKey } = keys.KeyRing.fromDataDir(dir);
      process.stdout.write(JSON.stringify({ createdKey, ring: ring.digests.map((d) => d.sha256) }));`;
    const keysCreate = `process.stdout.write(JSON.stringify(keys.addKeyToDataDir(dir, 'production').key));`;

    it('makes one development key when several start on a new data directory at once', async () => {
      const outcomes = (await race(6, firstStart)) as Array<{ createdKey?: string; ring: string[] }>;
      const created = outcomes.flatMap((o) => (o.createdKey === undefined ? [] : [o.createdKey]));
      expect(created).toHaveLength(1);
      for (const outcome of outcomes) expect(outcome.ring).toEqual([hashKey(created[0])]);
      expect(readdirSync(dir).sort()).toEqual(['api-keys.json', 'api-keys.json.lock']);
    });

    it('keeps every key when several "keys create" run at once', async () => {
      const made = (await race(6, keysCreate)) as string[];
      const { ring } = KeyRing.fromDataDir(dir);
      for (const key of made) expect(ring.authenticate(`API-Key ${key}`)).toBe('production');
      expect(JSON.parse(readFileSync(file, 'utf8')).keys).toHaveLength(6);
      expect(readdirSync(dir).sort()).toEqual(['api-keys.json', 'api-keys.json.lock']);
    });

    it('a process starting while another makes the first key waits, then reads that key', async () => {
      const release = holdLock();
      try {
        const late = child(firstStart);
        await late.printed('ready\n');
        await pause(300);
        expect(late.exited()).toBe(false);
        // What the holder of the lock writes is what the waiting process finds.
        writeFileSync(file, JSON.stringify({ keys: [{ environment: 'development', sha256: hashKey('FIRST') }] }));
        release();
        expect(await late.result).toEqual({ ring: [hashKey('FIRST')] });
      } finally {
        release();
      }
    });

    it('"keys create" waits for the lock, and says so when it waits too long', async () => {
      const release = holdLock();
      try {
        expect(() => withKeyFileLock(file, () => undefined, 100)).toThrow(/is being changed by another process/);
        const waiting = child(keysCreate);
        await waiting.printed('ready\n');
        await pause(300);
        expect(waiting.exited()).toBe(false);
        release();
        const key = (await waiting.result) as string;
        expect(KeyRing.fromDataDir(dir).ring.authenticate(`API-Key ${key}`)).toBe('production');
      } finally {
        release();
      }
    });

    it('names the lock when it cannot be opened', () => {
      mkdirSync(`${file}.lock`);
      expect(() => addKeyToDataDir(dir, 'production')).toThrow(/cannot open the lock .*api-keys\.json\.lock/);
      expect(existsSync(file)).toBe(false);
    });

    it('is not held up by a process that died holding the lock', async () => {
      const holder = child(`const Database = require('better-sqlite3');
        const lock = new Database(dir + '/api-keys.json.lock');
        lock.exec('BEGIN IMMEDIATE');
        process.stdout.write('held');
        setInterval(() => undefined, 1000);`);
      await holder.printed('held');
      expect(() => withKeyFileLock(file, () => undefined, 100)).toThrow(/is being changed by another process/);
      holder.kill();
      await expect(holder.result).rejects.toThrow(/exit null/);
      expect(holder.exited()).toBe(true);
      const { key } = addKeyToDataDir(dir, 'production');
      expect(KeyRing.fromDataDir(dir).ring.authenticate(`API-Key ${key}`)).toBe('production');
    });
  });

  describe('following the key file', () => {
    let dir: string;
    let stops: Array<() => void>;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'visitorbase-keys-follow-'));
      stops = [];
    });
    afterEach(() => {
      for (const stop of stops) stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const follow = (ring: KeyRing, errors: string[] = []) => stops.push(followKeyFile(ring, dir, (message) => errors.push(message), 10));
    const until = async (condition: () => boolean) => {
      const deadline = Date.now() + 5_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error('the key file change was not seen in time');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };

    it('accepts a key added while running and refuses one removed, each key keeping its id', async () => {
      const { ring, createdKey } = KeyRing.fromDataDir(dir);
      follow(ring);
      const first = ring.identify(`API-Key ${createdKey}`);
      expect(first).toEqual({ environment: 'development', keyId: 0 });
      const { key } = addKeyToDataDir(dir, 'production');
      await until(() => ring.authenticate(`API-Key ${key}`) !== undefined);
      expect(ring.identify(`API-Key ${key}`)).toEqual({ environment: 'production', keyId: 1 });
      expect(ring.identify(`API-Key ${createdKey}`)).toEqual(first);
      const file = join(dir, 'api-keys.json');
      const { keys } = JSON.parse(readFileSync(file, 'utf8')) as { keys: unknown[] };
      writeFileSync(file, JSON.stringify({ keys: keys.slice(1) }));
      await until(() => ring.authenticate(`API-Key ${createdKey}`) === undefined);
      expect(ring.identify(`API-Key ${key}`)).toEqual({ environment: 'production', keyId: 1 });
    });

    it('keeps the keys it has when the file turns unreadable or goes, and says so once', async () => {
      const { ring, createdKey } = KeyRing.fromDataDir(dir);
      const errors: string[] = [];
      follow(ring, errors);
      const file = join(dir, 'api-keys.json');
      writeFileSync(file, '{"keys": [');
      await until(() => errors.some((m) => m.includes('could not be read')));
      expect(ring.authenticate(`API-Key ${createdKey}`)).toBe('development');
      rmSync(file);
      await until(() => errors.some((m) => m.includes('is gone')));
      expect(ring.authenticate(`API-Key ${createdKey}`)).toBe('development');
      // Many polls later, still one message for the file being gone.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(errors.filter((m) => m.includes('is gone'))).toHaveLength(1);
    });

    it('leaves out entries that are not well-formed, and says so', async () => {
      const { ring, createdKey } = KeyRing.fromDataDir(dir);
      const errors: string[] = [];
      follow(ring, errors);
      const file = join(dir, 'api-keys.json');
      const good = { environment: 'production', sha256: hashKey('KEY1') };
      writeFileSync(file, JSON.stringify({ keys: [good, { environment: 'bad env', sha256: hashKey('KEY2') }, { environment: 'staging', sha256: 'x' }, null] }));
      await until(() => ring.authenticate('API-Key KEY1') !== undefined);
      expect(ring.authenticate(`API-Key ${createdKey}`)).toBeUndefined();
      expect(ring.authenticate('API-Key KEY2')).toBeUndefined();
      // Only what the file holds is reported (besides, perhaps, a look in the middle of a write).
      expect(errors.filter((m) => !m.includes('could not be read'))).toEqual([expect.stringContaining('3 entries are not well-formed')]);
      // A key listed again, under another environment: only its first entry counts.
      writeFileSync(file, JSON.stringify({ keys: [good, { environment: 'staging', sha256: hashKey('KEY1').toUpperCase() }] }));
      // (writeFileSync is not atomic: a look in the middle of it may first report a file it could not read.)
      await until(() => errors.some((m) => m.includes('1 entry is not well-formed ({"environment", "sha256"}) or repeat a key, and left out')));
      expect(ring.authenticate('API-Key KEY1')).toBe('production');
      writeFileSync(file, JSON.stringify({}));
      await until(() => ring.authenticate('API-Key KEY1') === undefined);
      expect(errors[errors.length - 1]).toContain('holds no well-formed key');
    });

    it('reads the file again as it begins: a key added since the ring was made counts at once', () => {
      const { ring } = KeyRing.fromDataDir(dir);
      const { key } = addKeyToDataDir(dir, 'production');
      // An interval far longer than the test: only the first read can see the key.
      stops.push(followKeyFile(ring, dir, () => undefined, 60_000));
      expect(ring.authenticate(`API-Key ${key}`)).toBe('production');
    });

    it('stops following when told to', async () => {
      const { ring } = KeyRing.fromDataDir(dir);
      const stop = followKeyFile(ring, dir, () => undefined, 10);
      stop();
      const { key } = addKeyToDataDir(dir, 'production');
      // A follower that still ran would see the change within a few of its 10 ms polls.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(ring.authenticate(`API-Key ${key}`)).toBeUndefined();
    });
  });
});
