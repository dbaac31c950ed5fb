import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WalCheckpointer } from './wal-checkpointer';
import { SqliteEventStore } from './sqlite-event-store';

describe('WalCheckpointer', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'visitorbase-checkpoint-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return check();
  }

  it('copies the WAL into the database file from its own thread', async () => {
    const file = join(dir, 'data.sqlite');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x TEXT)');
    db.pragma('wal_checkpoint(TRUNCATE)');
    const checkpointer = new WalCheckpointer(file, 20);
    const before = statSync(file).size;
    const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
    // About 2 MB: 500 pages, below the 1 000 at which the writer would checkpoint by itself.
    db.transaction(() => {
      for (let i = 0; i < 2_000; i++) insert.run('x'.repeat(1_000));
    })();
    // Only a checkpoint makes the database file itself grow.
    expect(await eventually(() => statSync(file).size > before + 1_000_000)).toBe(true);
    await checkpointer.stop();
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2_000 });
    db.close();
  });

  it('keeps the WAL from growing without end under a steady stream of commits', async () => {
    const file = join(dir, 'steady.sqlite');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE t (x TEXT)');
    const checkpointer = new WalCheckpointer(file, 5);
    const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
    // 3 000 commits of a row of 2 KB: 6 000 frames and more, 24 MB of WAL if it never started over.
    for (let i = 0; i < 3_000; i++) {
      insert.run('x'.repeat(2_000));
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(statSync(`${file}-wal`).size).toBeLessThan(10 * 1024 * 1024);
    await checkpointer.stop();
    db.close();
  });

  it('lets an event store that uses it close cleanly, twice at once, with every append kept', async () => {
    const file = join(dir, 'events.sqlite');
    const store = new SqliteEventStore(file, { backgroundCheckpoints: true });
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.append(`s-${i}`, [{ id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`, type: 'T', data: { i } }], 'no_stream'),
      ),
    );
    await Promise.all([store.close(), store.close()]);
    const reopened = new SqliteEventStore(file);
    expect((await reopened.headPosition())?.commit).toBe(200n);
    await reopened.close();
  });
});
