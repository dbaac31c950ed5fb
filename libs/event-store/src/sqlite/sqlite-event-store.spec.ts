import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import * as partitions from '../partition';
import { SqliteEventStore } from './sqlite-event-store';

describe('SqliteEventStore reads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'visitorbase-sqlite-es-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('let timers run between pages of a long scan that yields nothing', async () => {
    const store = new SqliteEventStore(join(dir, 'events.sqlite'));
    try {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 500 }, (_, i) => store.append(`other-${batch}-${i}`, [{ id: `${batch}-${i}`, type: 'T', data: {} }], 'any')),
        );
      }
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      let found = 0;
      for await (const _ of store.readAll({ streamPrefix: 'nothing-matches-' })) found++;
      clearInterval(timer);
      expect(found).toBe(0);
      // Five pages of 1000 rows: a timer got a turn between them.
      expect(ticks).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('tells another instance on the same file of each commit, so its followers look at once instead of at their next poll', async () => {
    const file = join(dir, 'told.sqlite');
    const writer = new SqliteEventStore(file);
    // A poll interval longer than the test's timeout: only being told can deliver in time.
    const follower = new SqliteEventStore(file, { pollIntervalMs: 10 * 60_000 });
    let commits = 0;
    const stop = writer.onAppended(() => {
      commits += 1;
      follower.notifyAppended();
    });
    const abort = new AbortController();
    try {
      const seen: unknown[] = [];
      const following = (async () => {
        for await (const page of follower.subscribeToAll({ signal: abort.signal })) {
          seen.push(...page.map((event) => event.data));
          if (seen.length === 2) abort.abort();
        }
      })();
      await writer.append('s-1', [{ id: 'told-1', type: 'T', data: { n: 1 } }], 'any');
      await writer.append('s-2', [{ id: 'told-2', type: 'T', data: { n: 2 } }], 'any');
      await following;
      expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
      expect(commits).toBe(2);
      // Once stopped, commits are no longer reported.
      stop();
      await writer.append('s-3', [{ id: 'told-3', type: 'T', data: {} }], 'any');
      expect(commits).toBe(2);
    } finally {
      abort.abort();
      await follower.close();
      await writer.close();
    }
  });

  it('goes on appending to a file whose events table was made with AUTOINCREMENT, after its last position', async () => {
    const file = join(dir, 'autoincrement.sqlite');
    const old = new Database(file);
    old.exec(`
      CREATE TABLE events (
        position    INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id    TEXT    NOT NULL UNIQUE,
        stream      TEXT    NOT NULL,
        revision    INTEGER NOT NULL,
        type        TEXT    NOT NULL,
        data        TEXT    NOT NULL,
        metadata    TEXT    NOT NULL,
        recorded_at INTEGER NOT NULL,
        UNIQUE (stream, revision)
      );
      INSERT INTO events (position, event_id, stream, revision, type, data, metadata, recorded_at)
        VALUES (41, 'old-1', 's', 0, 'T', '{"n":1}', '{}', 0);
    `);
    old.close();
    const store = new SqliteEventStore(file);
    try {
      const appended = await store.append('s', [{ id: 'new-1', type: 'T', data: { n: 2 } }, { id: 'new-2', type: 'T', data: { n: 3 } }], 0);
      expect(appended).toEqual({ nextRevision: 2, position: expect.objectContaining({ commit: 43n }) });
      const all = [];
      for await (const event of store.readAll()) all.push([Number(event.position.commit), event.revision, event.data]);
      expect(all).toEqual([
        [41, 0, { n: 1 }],
        [42, 1, { n: 2 }],
        [43, 2, { n: 3 }],
      ]);
    } finally {
      await store.close();
    }
  });

  it('says of a retried append, and only of it, that it was stored before', async () => {
    const store = new SqliteEventStore(join(dir, 'replayed.sqlite'));
    try {
      const events = [{ id: 'r-0', type: 'T', data: {} }, { id: 'r-1', type: 'T', data: {} }];
      const first = await store.append('replayed-a', events, 'any');
      const retry = await store.append('replayed-a', events, 'any');
      expect([first.replayed, retry.replayed]).toEqual([undefined, true]);
      expect(retry.position).toEqual(first.position);
    } finally {
      await store.close();
    }
  });

  it('fails a whole group commit, storing none of it, when SQLite rolls the transaction back under an append', async () => {
    const store = new SqliteEventStore(join(dir, 'full.sqlite'));
    try {
      const payload = { text: 'x'.repeat(3_000) };
      for (let i = 0; i < 50; i++) await store.append(`full-${i}`, [{ id: `f-${i}`, type: 'T', data: payload }], 'any');
      // A file that cannot grow: SQLITE_FULL mid-transaction, which SQLite answers by rolling the whole
      // transaction back, not just the append's savepoint. The appends after it must not then run
      // (and commit) on their own while every one of them is answered as failed.
      const db = (store as unknown as { db: Database.Database }).db;
      const pages = db.pragma('page_count', { simple: true }) as number;
      db.pragma(`max_page_count = ${pages + 6}`);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          store.append(`grow-${i}`, [{ id: `g-${i}-a`, type: 'T', data: payload }, { id: `g-${i}-b`, type: 'T', data: payload }], 'any'),
        ),
      );
      const stored: string[] = [];
      for (let i = 0; i < 12; i++) {
        for await (const event of store.readStream(`grow-${i}`)) stored.push(event.id);
      }
      const acknowledged = outcomes.flatMap((outcome, i) => (outcome.status === 'fulfilled' ? [`g-${i}-a`, `g-${i}-b`] : []));
      expect(outcomes.some((outcome) => outcome.status === 'rejected')).toBe(true);
      // Every answer says what the log holds: stored if and only if acknowledged.
      expect(stored).toEqual(acknowledged);
    } finally {
      await store.close();
    }
  });

  it('settles: waits for an append another process is committing, so that a read after it holds that append', async () => {
    const file = join(dir, 'settle.sqlite');
    const store = new SqliteEventStore(file);
    try {
      await store.append('settle-a', [{ id: 'settle-0', type: 'T', data: {} }], 'any');
      // Another writer, in a thread of its own, holds the write lock with an event not yet committed.
      const writer = new Worker(
        `const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
         const { parentPort, workerData } = require('node:worker_threads');
         const db = new Database(workerData);
         db.exec('BEGIN IMMEDIATE');
         db.prepare("INSERT INTO events (event_id, stream, revision, type, data, metadata, recorded_at) VALUES ('settle-1', 'settle-b', 0, 'T', '{}', '{}', 1)").run();
         parentPort.postMessage('locked');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
         db.exec('COMMIT');
         db.close();`,
        { eval: true, workerData: file },
      );
      const exited = once(writer, 'exit');
      await once(writer, 'message');
      const before: string[] = [];
      for await (const event of store.readAll()) before.push(event.id);
      expect(before).toEqual(['settle-0']);
      await store.settle();
      const after: string[] = [];
      for await (const event of store.readAll()) after.push(event.id);
      expect(after).toEqual(['settle-0', 'settle-1']);
      await exited;
    } finally {
      await store.close();
    }
  });

  it('gives each event of an append the metadata it carries', async () => {
    const store = new SqliteEventStore(join(dir, 'metadata.sqlite'));
    try {
      const shared = { environment: 'development' };
      await store.append(
        'm',
        [
          { id: 'm-1', type: 'T', data: {}, metadata: shared },
          { id: 'm-2', type: 'T', data: {}, metadata: shared },
          { id: 'm-3', type: 'T', data: {}, metadata: { environment: 'production' } },
          { id: 'm-4', type: 'T', data: {} },
          { id: 'm-5', type: 'T', data: {}, metadata: shared },
        ],
        'any',
      );
      const metadata = [];
      for await (const event of store.readStream('m')) metadata.push(event.metadata);
      expect(metadata).toEqual([shared, shared, { environment: 'production' }, {}, shared]);
    } finally {
      await store.close();
    }
  });

  it('stops a share of the log at the head it began from: rows appended since are not hashed', async () => {
    const store = new SqliteEventStore(join(dir, 'head-bound.sqlite'));
    const hashed = jest.spyOn(partitions, 'streamPartition');
    try {
      const append = (prefix: string, count: number) =>
        Promise.all(Array.from({ length: count }, (_, i) => store.append(`${prefix}-${i}`, [{ id: `${prefix}-${i}`, type: 'T', data: {} }], 'any')));
      await append('before', 30);
      hashed.mockClear();
      const share: string[] = [];
      let appendedSince = false;
      for await (const page of store.readAllPages({ pageSize: 10, partition: { index: 0, count: 2 } })) {
        share.push(...page.map((event) => event.stream));
        if (!appendedSince) {
          appendedSince = true;
          await append('since', 2_000);
        }
      }
      // Each page asks for at most as many rows as lie between it and the head: no more than
      // the 30 rows that were there are ever hashed, whatever was appended since.
      expect(hashed).toHaveBeenCalled();
      expect(hashed.mock.calls.length).toBeLessThanOrEqual(30);
      const expected = Array.from({ length: 30 }, (_, i) => `before-${i}`).filter((name) => partitions.streamPartition(name, 2) === 0);
      expect(share).toEqual(expected);
    } finally {
      hashed.mockRestore();
      await store.close();
    }
  });
});
