import Database from 'better-sqlite3';
import {
  AppendResult,
  EventIdConflictError,
  EventStore,
  EventStoreUnavailableError,
  ExpectedRevision,
  LoggedEvent,
  NewEvent,
  ReadAllOptions,
  RecordedEvent,
  ReadAllPagesOptions,
  SubscribeOptions,
  WrongExpectedRevisionError,
} from '../event-store.port';
import { checkPartition, streamPartition } from '../partition';
import { Position, position } from '../position';
import { WalCheckpointer } from './wal-checkpointer';

const PAGE_SIZE = 1000;

interface PendingAppend {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Rows are read as arrays, in this column order: no object per row to build and throw away. */
const COLUMNS = 'position, event_id, stream, revision, type, data, metadata, recorded_at';
type EventRow = [position: number, eventId: string, stream: string, revision: number, type: string, data: string, metadata: string, recordedAt: number];
/** What `readAllPages` reads: a third fewer bytes to copy out of SQLite per event, and one JSON.parse instead of two. */
const LOGGED_COLUMNS = 'position, stream, revision, type, data';
type LoggedRow = [position: number, stream: string, revision: number, type: string, data: string];
const POSITION = 0;
const STREAM = 2;
const REVISION = 3;
const LOGGED_STREAM = 1;
/** `streamPartition` as an SQL function of this store's connections. */
const PARTITION_FUNCTION = 'visitorbase_partition';

export interface SqliteEventStoreOptions {
  /**
   * How often a follower looks for events appended by another process sharing
   * the file. Appends made through this instance wake followers at once.
   */
  readonly pollIntervalMs?: number;
  /**
   * Copy the WAL back into the database file from a background thread
   * (`WalCheckpointer`) instead of inside commits on the caller's thread.
   * The storage module turns it on for the service and the projector; the
   * CLI and code that opens a store directly leave it off.
   */
  readonly backgroundCheckpoints?: boolean;
}

/**
 * The embedded event store: one SQLite file in WAL mode with
 * `synchronous = FULL`, so a commit is on disk before `append` resolves.
 *
 * Appends that arrive in the same turn of the event loop are written in one
 * transaction (group commit): one fsync for all of them instead of one each.
 * Each append still succeeds or fails on its own, inside a savepoint.
 */
export class SqliteEventStore implements EventStore {
  private readonly db: Database.Database;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private readonly wakers = new Set<() => void>();
  private readonly appendListeners = new Set<() => void>();
  private closed = false;
  private closing?: Promise<void>;
  private readonly pollIntervalMs: number;
  private readonly checkpointer?: WalCheckpointer;

  private readonly stmt: {
    lastRevision: Database.Statement<[string], { revision: number | null }>;
    insert: Database.Statement<[string, string, number, string, string, string, number]>;
    byEventId: Database.Statement<[string], { stream: string; revision: number; position: number; metadata: string }>;
    streamPage: Database.Statement<[string, number, number], EventRow>;
    allPage: Database.Statement<[number, number], EventRow>;
    loggedPage: Database.Statement<[number, number], LoggedRow>;
    loggedPartitionPage: Database.Statement<[number, number, number, number, number], LoggedRow>;
    head: Database.Statement<[], { position: number | null }>;
  };
  private readonly commitBatch: Database.Transaction<(batch: PendingAppend[]) => Array<AppendResult | Error>>;

  constructor(file: string, options: SqliteEventStoreOptions = {}) {
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 10000');
    // Positions are rowids: each new one is the largest so far plus one. Events are never
    // deleted, so none is ever given twice, and AUTOINCREMENT (which updates sqlite_sequence
    // on every insert) would add nothing. Files made with it keep it and work the same.
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        position    INTEGER PRIMARY KEY,
        event_id    TEXT    NOT NULL UNIQUE,
        stream      TEXT    NOT NULL,
        revision    INTEGER NOT NULL,
        type        TEXT    NOT NULL,
        data        TEXT    NOT NULL,
        metadata    TEXT    NOT NULL,
        recorded_at INTEGER NOT NULL,
        UNIQUE (stream, revision)
      );
    `);
    this.db.function(PARTITION_FUNCTION, { deterministic: true }, (stream, count) => streamPartition(stream as string, count as number));
    this.stmt = {
      lastRevision: this.db.prepare('SELECT max(revision) AS revision FROM events WHERE stream = ?'),
      insert: this.db.prepare(
        'INSERT INTO events (event_id, stream, revision, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      byEventId: this.db.prepare('SELECT stream, revision, position, metadata FROM events WHERE event_id = ?'),
      streamPage: this.db
        .prepare<[string, number, number], EventRow>(
          `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`,
        )
        .raw(true),
      allPage: this.db
        .prepare<[number, number], EventRow>(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`)
        .raw(true),
      loggedPage: this.db
        .prepare<[number, number], LoggedRow>(`SELECT ${LOGGED_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`)
        .raw(true),
      // The share is picked inside SQLite: the rows of other shares are never copied out.
      loggedPartitionPage: this.db
        .prepare<[number, number, number, number, number], LoggedRow>(
          `SELECT ${LOGGED_COLUMNS} FROM events WHERE position > ? AND position <= ? AND ${PARTITION_FUNCTION}(stream, ?) = ? ORDER BY position LIMIT ?`,
        )
        .raw(true),
      head: this.db.prepare('SELECT max(position) AS position FROM events'),
    };
    const appendOne = this.db.transaction((item: PendingAppend, now: number) => this.appendInTransaction(item, now));
    this.commitBatch = this.db.transaction((batch: PendingAppend[]) => {
      const now = Date.now();
      return batch.map((item) => {
        try {
          return appendOne(item, now);
        } catch (error) {
          // Some failures (a full disk, an I/O error, no memory) make SQLite roll back the whole
          // transaction, not just this append's savepoint: the appends before it are gone, and the
          // ones after it would each run, and commit, on their own. The batch fails as a whole.
          if (!this.db.inTransaction) throw error;
          return error instanceof Error ? error : new Error(String(error));
        }
      });
    });
    // Last: nothing above can fail and leave the thread behind.
    if (options.backgroundCheckpoints) this.checkpointer = new WalCheckpointer(file);
  }

  append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new EventStoreUnavailableError('event store is closed'));
    if (events.length === 0) return Promise.reject(new Error('append needs at least one event'));
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ stream, events, expected, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    let outcomes: Array<AppendResult | Error>;
    try {
      // IMMEDIATE: take the write lock up front, waiting for it (busy_timeout). A deferred
      // transaction starts as a reader and, when another process (sharing the data directory)
      // has written meanwhile, fails to upgrade with SQLITE_BUSY at once, without waiting.
      outcomes = this.commitBatch.immediate(batch);
    } catch (error) {
      const failure = new EventStoreUnavailableError(`append failed: ${(error as Error).message}`, { cause: error });
      for (const item of batch) item.reject(failure);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome instanceof Error) item.reject(outcome);
      else item.resolve(outcome);
    });
    this.wake();
    for (const listener of this.appendListeners) listener();
  }

  /**
   * An append is timed inside its write transaction: once the write lock has
   * been taken and given back, every append timed before that has committed
   * or failed, in this process (whose commits run within one turn of the
   * event loop) and in any other sharing the file (waited for up to the busy
   * timeout).
   */
  async settle(): Promise<void> {
    if (this.closed) throw new EventStoreUnavailableError('event store is closed');
    this.db.exec('BEGIN IMMEDIATE');
    this.db.exec('COMMIT');
  }

  /**
   * Calls `listener` after each commit of appends through this instance, for
   * a follower elsewhere (another thread with its own connection) to be told
   * at once rather than at its next poll. Returns how to stop.
   */
  onAppended(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** Someone else committed appends to this file: followers of this instance look now, not at their next poll. */
  notifyAppended(): void {
    this.wake();
  }

  private appendInTransaction(item: PendingAppend, now: number): AppendResult {
    const first = this.stmt.byEventId.get(item.events[0].id);
    if (first) return this.replayedAppend(item, first);
    const last = this.stmt.lastRevision.get(item.stream)?.revision ?? null;
    checkExpected(item.stream, item.expected, last);
    let revision = last ?? -1;
    let lastPosition = 0;
    // The events of one append usually share one metadata object: serialized once.
    let metadataOf: unknown = undefined;
    let metadataJson = '';
    for (const event of item.events) {
      revision += 1;
      const metadata = event.metadata ?? {};
      if (metadata !== metadataOf) {
        metadataOf = metadata;
        metadataJson = JSON.stringify(metadata);
      }
      const info = this.stmt.insert.run(event.id, item.stream, revision, event.type, JSON.stringify(event.data), metadataJson, now);
      lastPosition = Number(info.lastInsertRowid);
    }
    return { nextRevision: revision, position: position(BigInt(lastPosition)) };
  }

  /**
   * The same event ids were appended before: if it was this same append (same
   * stream, same number of events, same metadata on its first event), answer
   * what it answered; else the ids were reused for something else.
   */
  private replayedAppend(item: PendingAppend, first: { stream: string; revision: number; metadata: string }): AppendResult {
    const lastId = item.events[item.events.length - 1].id;
    const last = this.stmt.byEventId.get(lastId);
    const same =
      first.stream === item.stream &&
      first.metadata === JSON.stringify(item.events[0].metadata ?? {}) &&
      last !== undefined &&
      last.stream === item.stream &&
      last.revision - first.revision + 1 === item.events.length;
    if (!same) {
      throw new EventIdConflictError(item.stream);
    }
    return { nextRevision: last.revision, position: position(BigInt(last.position)), replayed: true };
  }

  async *readStream(stream: string, options: { fromRevision?: number } = {}): AsyncIterable<RecordedEvent> {
    let from = options.fromRevision ?? 0;
    for (;;) {
      const rows = this.stmt.streamPage.all(stream, from, PAGE_SIZE);
      for (const row of rows) yield toRecorded(row);
      if (rows.length < PAGE_SIZE) return;
      from = rows[rows.length - 1][REVISION] + 1;
      await turn();
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const read = (after: number, _head: number, limit: number) => this.stmt.allPage.all(after, limit);
    for await (const page of this.pagesUpToHead(read, STREAM, toRecorded, options, PAGE_SIZE)) yield* page;
  }

  async *readAllPages(options: ReadAllPagesOptions = {}): AsyncIterable<readonly LoggedEvent[]> {
    const pageSize = pageSizeOf(options);
    const partition = checkPartition(options.partition);
    const read =
      partition === undefined || partition.count === 1
        ? (after: number, _head: number, limit: number) => this.stmt.loggedPage.all(after, limit)
        : // Bounded by the head: past it, the last page of a share would run the hash over every newer row.
          (after: number, head: number, limit: number) => this.stmt.loggedPartitionPage.all(after, head, partition.count, partition.index, limit);
    yield* this.pagesUpToHead(read, LOGGED_STREAM, toLogged, options, pageSize);
  }

  private async *pagesUpToHead<Row extends [number, ...unknown[]], T>(
    read: (after: number, head: number, limit: number) => Row[],
    streamColumn: number,
    convert: (row: Row) => T,
    options: ReadAllOptions,
    pageSize: number,
  ): AsyncIterable<T[]> {
    const head = this.stmt.head.get()?.position ?? 0;
    let after = startAfter(options.after);
    while (after < head) {
      // Positions only grow, so no more than head - after rows can be at or below the head.
      const rows = read(after, head, Math.min(pageSize, head - after));
      if (rows.length === 0) return;
      const page: T[] = [];
      for (const row of rows) {
        if (row[POSITION] > head) break;
        if (matchesPrefix(row[streamColumn] as string, options.streamPrefix)) page.push(convert(row));
      }
      if (page.length > 0) yield page;
      after = rows[rows.length - 1][POSITION];
      // Reads are synchronous: without a turn of the event loop between pages, a long scan
      // that yields little (a sparse filter) would hold up every request until it ends.
      await turn();
    }
  }

  async *subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<readonly RecordedEvent[]> {
    const { signal, streamPrefix } = options;
    let after = startAfter(options.after);
    while (!signal?.aborted && !this.closed) {
      const rows = this.stmt.allPage.all(after, PAGE_SIZE);
      if (rows.length > 0) {
        after = rows[rows.length - 1][POSITION];
        const page: RecordedEvent[] = [];
        for (const row of rows) if (matchesPrefix(row[STREAM], streamPrefix)) page.push(toRecorded(row));
        if (page.length > 0) yield page;
        // Catching up on a backlog: let requests in between pages.
        if (rows.length === PAGE_SIZE) await turn();
        continue;
      }
      await this.nextAppend(signal);
    }
  }

  /** Resolves on the next append through this instance, a poll tick, or abort. */
  private nextAppend(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, this.pollIntervalMs);
      this.wakers.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }

  async headPosition(): Promise<Position | undefined> {
    const head = this.stmt.head.get()?.position;
    return head == null ? undefined : position(BigInt(head));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Appends already accepted are written before the file is closed.
      this.flush();
      this.closed = true;
      this.wake();
      await this.checkpointer?.stop();
      this.db.close();
    })();
    return this.closing;
  }
}

/** One turn of the event loop. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function checkExpected(stream: string, expected: ExpectedRevision, last: number | null): void {
  if (expected === 'any') return;
  if (expected === 'no_stream') {
    if (last !== null) throw new WrongExpectedRevisionError(stream, expected, last);
    return;
  }
  if (expected === 'stream_exists') {
    if (last === null) throw new WrongExpectedRevisionError(stream, expected, 'no_stream');
    return;
  }
  if (last !== expected) throw new WrongExpectedRevisionError(stream, expected, last ?? 'no_stream');
}

function startAfter(after: Position | undefined): number {
  return after === undefined || after.commit < 0n ? 0 : Number(after.commit);
}

function matchesPrefix(stream: string, prefix: string | undefined): boolean {
  return prefix === undefined || stream.startsWith(prefix);
}

function pageSizeOf(options: ReadAllPagesOptions): number {
  const size = options.pageSize ?? PAGE_SIZE;
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`pageSize must be a positive integer, got ${size}`);
  return size;
}

function toLogged([at, stream, revision, type, data]: LoggedRow): LoggedEvent {
  return { stream, revision, position: position(BigInt(at)), type, data: JSON.parse(data) };
}

function toRecorded([at, id, stream, revision, type, data, metadata, recordedAt]: EventRow): RecordedEvent {
  return {
    id,
    stream,
    revision,
    position: position(BigInt(at)),
    type,
    data: JSON.parse(data),
    metadata: JSON.parse(metadata),
    recordedAt,
  };
}
