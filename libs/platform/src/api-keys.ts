import { createHash, hash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { Stats, accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isEnvironmentName } from '@visitorbase/users/domain';
import { ConfigError } from './config';

interface StoredKey {
  readonly environment: string;
  /** Hex SHA-256 of the key; the key itself is never kept. */
  readonly sha256: string;
}

const KEY_FILE = 'api-keys.json';
const SCHEME = /^API-Key[ \t]+([^\s]+)[ \t]*$/i;
const SENDABLE_KEY = /^[\x21-\x7e]+$/;

/**
 * Lowercase hex SHA-256 of a key. `crypto.hash` (Node 20.12 and later) makes
 * no Hash object, and a hex string is compared without a Buffer: a Buffer per
 * digest and `timingSafeEqual` on every authenticated request cost about 8 µs
 * of CPU in the service, many times what the same work takes in a loop.
 */
export const hashKey: (key: string) => string =
  typeof hash === 'function'
    ? (key) => hash('sha256', key, 'hex')
    : (key) => createHash('sha256').update(key, 'utf8').digest('hex');

export function generateKey(): string {
  return `vb_${randomBytes(24).toString('base64url')}`;
}

/**
 * The API keys this process accepts, each bound to one environment. Only
 * SHA-256 digests are held, and a presented key is compared against every
 * digest in constant time, so neither the answer's timing nor a memory dump
 * tells a key.
 */
export class KeyRing {
  private digests: ReadonlyArray<{ environment: string; sha256: string; keyId: number }> = [];
  /** A key keeps its id (and so its rate-limit bucket) across reloads of the key file. */
  private readonly ids = new Map<string, number>();

  constructor(keys: readonly StoredKey[]) {
    this.replace(keys);
  }

  /** From now on, accept these keys and no others. */
  replace(keys: readonly StoredKey[]): void {
    this.digests = keys.map((k) => {
      const sha256 = k.sha256.toLowerCase();
      let keyId = this.ids.get(sha256);
      if (keyId === undefined) this.ids.set(sha256, (keyId = this.ids.size));
      return { environment: k.environment, sha256, keyId };
    });
  }

  get environments(): string[] {
    return [...new Set(this.digests.map((d) => d.environment))];
  }

  /** The environment of the key in an `Authorization: API-Key <key>` header, if any. */
  authenticate(authorization: string | undefined): string | undefined {
    return this.identify(authorization)?.environment;
  }

  /**
   * The environment of the key in the header and which of the ring's keys it
   * is (`keyId`, a number given to each digest in the order first seen: it
   * names the key without revealing anything of it), if any. Every digest is
   * compared, whichever matches.
   */
  identify(authorization: string | undefined): { environment: string; keyId: number } | undefined {
    if (authorization === undefined) return undefined;
    const match = SCHEME.exec(authorization);
    if (!match) return undefined;
    const presented = hashKey(match[1]);
    let found: { environment: string; keyId: number } | undefined;
    for (const { environment, sha256, keyId } of this.digests) {
      if (sameDigest(presented, sha256) && found === undefined) found = { environment, keyId };
    }
    return found;
  }

  /** Parses `API_KEYS`: `environment:key` pairs separated by commas. */
  static fromApiKeysVariable(text: string): KeyRing {
    const keys = text
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '')
      .map((entry, i) => {
        const colon = entry.indexOf(':');
        const environment = colon < 0 ? '' : entry.slice(0, colon).trim();
        const key = colon < 0 ? '' : entry.slice(colon + 1).trim();
        if (!isEnvironmentName(environment) || key === '') {
          // The entry itself is not echoed: it may hold a key.
          throw new ConfigError(
            `API_KEYS entry ${i + 1} must look like environment:key, with an environment of letters, digits and _`,
          );
        }
        if (!SENDABLE_KEY.test(key)) {
          // It could never be presented: `Authorization: API-Key <key>` holds one token of visible ASCII.
          throw new ConfigError(`API_KEYS entry ${i + 1}: a key is visible ASCII characters, without spaces`);
        }
        return { environment, sha256: hashKey(key) };
      });
    if (keys.length === 0) throw new ConfigError('API_KEYS is set but holds no environment:key entry');
    const first = new Map<string, number>();
    keys.forEach(({ sha256 }, i) => {
      const earlier = first.get(sha256);
      // One key for two environments would always open the first: the second could never be reached.
      if (earlier !== undefined) throw new ConfigError(`API_KEYS entries ${earlier + 1} and ${i + 1} hold the same key: a key opens one environment`);
      first.set(sha256, i);
    });
    return new KeyRing(keys);
  }

  /**
   * The key file under the data directory; on the very first start it is
   * created with one development key, which is returned so it can be shown
   * once.
   */
  static fromDataDir(dataDir: string): { ring: KeyRing; createdKey?: string } {
    const file = join(dataDir, KEY_FILE);
    const existing = () => ({ ring: new KeyRing(readKeyFile(file).keys) });
    if (existsSync(file)) return existing();
    mkdirSync(dataDir, { recursive: true });
    // Under the lock, and looked for again: of several processes starting on one new data
    // directory (replicas sharing a volume), one makes the key and the others read it.
    return withKeyFileLock(file, () => {
      if (existsSync(file)) return existing();
      const key = generateKey();
      const keys = [{ environment: 'development', sha256: hashKey(key) }];
      writeKeyFile(file, keys);
      return { ring: new KeyRing(keys), createdKey: key };
    });
  }
}

/** Every entry of a key file, as written; throws, naming the file, when it is not JSON of that shape. */
function readKeyEntries(file: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new ConfigError(`${file} is not valid JSON (${error.message})`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || (keys !== undefined && !Array.isArray(keys))) {
    throw new ConfigError(`${file} must hold {"keys": [{"environment": ..., "sha256": ...}, ...]}`);
  }
  return keys ?? [];
}

/** The well-formed entries of a key file, and how many others it holds; throws when the file cannot be read or is not JSON. */
function readKeyFile(file: string): { keys: StoredKey[]; skipped: number } {
  const entries = readKeyEntries(file);
  const seen = new Set<string>();
  const keys = entries.filter((k): k is StoredKey => {
    if (typeof k !== 'object' || k === null || !isEnvironmentName((k as StoredKey).environment)) return false;
    const sha256 = String((k as StoredKey).sha256).toLowerCase();
    // A key listed twice opens the environment of its first entry only: the others are left out.
    if (!/^[0-9a-f]{64}$/.test(sha256) || seen.has(sha256)) return false;
    seen.add(sha256);
    return true;
  });
  return { keys, skipped: entries.length - keys.length };
}

/**
 * Keeps `ring` in step with the key file under the data directory: a key
 * added by `keys create` (or removed by hand) counts within `intervalMs`,
 * without a restart. The file is read again at once (a key added since the
 * ring was made counts too), then its status is looked at every interval
 * and the file read again when its size, times or inode changed, which also
 * sees it replaced by a rename. A file that cannot be read, parsed or found
 * leaves the keys as they were; entries that are not well-formed are left
 * out. `onError` is told of each (once, until the file reads well again).
 * Returns how to stop.
 */
export function followKeyFile(
  ring: KeyRing,
  dataDir: string,
  onError: (message: string) => void,
  intervalMs = 1_000,
): () => void {
  const file = join(dataDir, KEY_FILE);
  let seen: string | undefined;
  let stopped = false;
  let reported: string | undefined;
  const report = (message: string) => {
    if (message !== reported) onError((reported = message));
  };
  const reload = (signature: string) => {
    if (stopped || signature === seen) return;
    seen = signature;
    if (signature === GONE) {
      report(`${file} is gone; the keys read before stay in use`);
      return;
    }
    let read: { keys: StoredKey[]; skipped: number };
    try {
      read = readKeyFile(file);
    } catch (error) {
      report(`${file} could not be read (${(error as Error).message}); the keys read before stay in use`);
      return;
    }
    ring.replace(read.keys);
    reported = undefined;
    if (read.keys.length === 0) report(`${file} holds no well-formed key: every request under /v2 is refused`);
    else if (read.skipped > 0) report(`${file}: ${read.skipped === 1 ? '1 entry is' : `${read.skipped} entries are`} not well-formed ({"environment", "sha256"}) or repeat a key, and left out`);
  };
  // The status is taken before the file is read: a write that lands during the read is seen at the next look.
  reload(signatureOf(statSync(file, { throwIfNoEntry: false })));
  let looking = false;
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    stat(file)
      .catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      })
      .then((status) => reload(signatureOf(status)))
      .catch((error: unknown) => {
        if (!stopped) report(`${file} could not be looked at (${(error as Error).message})`);
      })
      .finally(() => (looking = false));
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

const GONE = 'gone';

function signatureOf(status: Stats | undefined): string {
  return status === undefined ? GONE : `${status.size}:${status.mtimeMs}:${status.ctimeMs}:${status.ino}`;
}

/**
 * Whether two hex digests are equal, in a time that does not depend on where
 * they differ: every character is compared, with no early exit.
 */
export function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/**
 * Makes a new random key for `environment` and adds its hash to the key file
 * under the data directory (creating it if need be). The key itself is
 * returned to be shown once, and kept nowhere.
 */
export function addKeyToDataDir(dataDir: string, environment: string): { key: string; file: string } {
  if (!isEnvironmentName(environment)) {
    throw new ConfigError(`environment names are 1 to 64 letters, digits and _, got ${JSON.stringify(environment)}`);
  }
  const file = join(dataDir, KEY_FILE);
  mkdirSync(dataDir, { recursive: true });
  const key = generateKey();
  // Read, add and write under the lock: two runs at once would each write their own copy, and one key would be lost.
  withKeyFileLock(file, () => {
    // Entries it does not use are kept as they are: the file is the operator's.
    const keys = existsSync(file) ? readKeyEntries(file) : [];
    keys.push({ environment, sha256: hashKey(key) });
    writeKeyFile(file, keys);
  });
  return { key, file };
}

/** Written beside, then renamed into place: a process reading meanwhile reads the old file or the new one, never half. */
function writeKeyFile(file: string, keys: readonly unknown[]): void {
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify({ keys }, null, 2) + '\n', { mode: 0o600 });
  renameSync(partial, file);
}

const LOCK_WAIT_MS = 10_000;

/**
 * Runs `work` holding the write lock of `<file>.lock`, an SQLite file kept
 * for nothing else, and waits up to 10 s for another holder. The lock is an
 * operating-system lock on that file: it is let go when its holder exits or
 * dies, so none is ever left behind, and nothing depends on clocks. (Like
 * every SQLite lock, it is only as good as the file system's locks: sound on
 * local disks, not on some network file systems.)
 */
export function withKeyFileLock<T>(file: string, work: () => T, waitMs = LOCK_WAIT_MS): T {
  const path = `${file}.lock`;
  let lock: Database.Database;
  try {
    // SQLite would quietly open a file it cannot write read-only, and BEGIN IMMEDIATE would then
    // take no write lock at all. (Checked without opening the file: closing a descriptor of it
    // would let go of every lock this process holds on it.)
    if (existsSync(path)) accessSync(path, constants.W_OK);
    lock = new Database(path, { timeout: waitMs });
  } catch (error) {
    throw new ConfigError(`cannot open the lock ${path} of ${file}: ${(error as Error).message}`);
  }
  try {
    try {
      lock.exec('BEGIN IMMEDIATE');
    } catch (error) {
      if (!String((error as { code?: string }).code).startsWith('SQLITE_BUSY')) throw error;
      throw new ConfigError(`${file} is being changed by another process (its lock ${path} was held for ${waitMs / 1000} s); try again`);
    }
    return work();
  } finally {
    // Closing ends the transaction, which wrote nothing, and lets the lock go.
    lock.close();
  }
}
