import { StreamPartition } from './partition';
import { Position } from './position';

/** An event about to be appended. `id` makes a retried append idempotent. */
export interface NewEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: Record<string, unknown>;
}

export interface RecordedEvent {
  readonly id: string;
  readonly stream: string;
  /** 0-based revision of the event inside its stream. */
  readonly revision: number;
  readonly position: Position;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Record<string, unknown>;
  /** Milliseconds since the epoch at which the store recorded the event. */
  readonly recordedAt: number;
}

/** What a fold reads of a recorded event: its place in the log and what it says. */
export type LoggedEvent = Pick<RecordedEvent, 'stream' | 'revision' | 'position' | 'type' | 'data'>;

/**
 * `any`: no check. `no_stream`: the stream must not exist yet.
 * `stream_exists`: it must. A number: the revision of the stream's last event.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export interface AppendResult {
  /** Revision of the last event written. */
  readonly nextRevision: number;
  /** Global position of the last event written. */
  readonly position: Position;
  /**
   * True when these events (by their ids) were stored by an earlier append,
   * and nothing was written this time. The SQLite store tells; EventStoreDB
   * does not report it, and its answers leave it out.
   */
  readonly replayed?: boolean;
}

export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(`stream ${JSON.stringify(stream)}: expected revision ${String(expected)}, found ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/**
 * Some of the event ids were appended before, but not as this same append to
 * this stream: the ids were reused for something else.
 */
export class EventIdConflictError extends Error {
  constructor(readonly stream: string) {
    super(`event ids already used by another append (stream ${JSON.stringify(stream)})`);
    this.name = 'EventIdConflictError';
  }
}

/** The store could not be reached or failed; the caller may retry later. */
export class EventStoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventStoreUnavailableError';
  }
}

export interface ReadAllOptions {
  /** Exclusive: only events strictly after this position. */
  readonly after?: Position;
  /** Only streams whose name starts with this prefix. */
  readonly streamPrefix?: string;
}

export interface ReadAllPagesOptions extends ReadAllOptions {
  /** Most events read from the store per page (before the prefix filter); the adapter's default if absent. */
  readonly pageSize?: number;
  /**
   * Only the events of the streams in this share (`streamPartition`): readers
   * of shares 0 to count - 1 together read the log once, each stream whole.
   */
  readonly partition?: StreamPartition;
}

export interface SubscribeOptions extends ReadAllOptions {
  readonly signal?: AbortSignal;
}

/**
 * The write side's source of truth. Every adapter passes
 * `test/contract/event-store.contract.ts`.
 */
export interface EventStore {
  /** Appends atomically; resolves only once the events are durable. */
  append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /** Events of one stream in revision order, read page by page. */
  readStream(stream: string, options?: { fromRevision?: number }): AsyncIterable<RecordedEvent>;
  /** Every event of the log in global order, read page by page, up to the head when called. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /**
   * The same events as `readAll`, a page at a time and only what a fold
   * reads of them: for readers of the whole log (a rebuild), where one step
   * of an async iteration per event, or an id and metadata read and parsed
   * for nothing, would cost more than the fold itself. Pages are never empty.
   */
  readAllPages(options?: ReadAllPagesOptions): AsyncIterable<readonly LoggedEvent[]>;
  /**
   * Catches up from `after`, then follows new appends until `signal` aborts.
   * Yields pages of events in global order.
   */
  subscribeToAll(options?: SubscribeOptions): AsyncIterable<readonly RecordedEvent[]>;
  /** Position of the last event in the log, or undefined while it is empty. */
  headPosition(): Promise<Position | undefined>;
  /**
   * Resolves once every append under way when it is called, by any process
   * writing to this store, has committed or failed: after it, no event
   * recorded before the call can still appear. A reader that takes the log up
   * to some time as complete waits for it first. Stores whose events are
   * timed elsewhere (EventStoreDB, by the server's clock) cannot tell, and
   * resolve at once.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EventStore');
