import { setTimeout as delay } from 'node:timers/promises';
import {
  AllStreamRecordedEvent,
  AllStreamResolvedEvent,
  AppendResult as EsdbAppendResult,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  ReadPosition,
  START,
  StreamNotFoundError,
  streamNameFilter,
} from '@eventstore/db-client';
import {
  AppendResult,
  EventStore,
  EventStoreUnavailableError,
  ExpectedRevision,
  NewEvent,
  LoggedEvent,
  ReadAllOptions,
  ReadAllPagesOptions,
  RecordedEvent,
  SubscribeOptions,
  WrongExpectedRevisionError,
} from '../event-store.port';
import { checkPartition, streamPartition } from '../partition';
import { Position, comparePositions, position } from '../position';
import { appendedPosition, isSystemStream, toEventData, toExpectedRevision, toRecordedEvent, toStoreError } from './mapping';
import { pagesOf, pagesUpTo } from './pages';

const PAGE_SIZE = 1000;
/** How long one attempt of an append may take; the server is told to give up by then too. */
const APPEND_ATTEMPT_TIMEOUT_MS = 5_000;
/** Waits before the second and third attempt of an append the server did not answer. */
const APPEND_RETRY_DELAYS_MS = [100, 500];

export interface EventStoreDbOptions {
  /** Events per read request and most events per subscription page. */
  readonly pageSize?: number;
}

/**
 * The production event store: one EventStoreDB stream per visitor, `$all`
 * for the projection. A thin translation of the port onto the gRPC client;
 * `test/contract/event-store.contract.ts` is what says it is right.
 *
 * System streams (`$…`) are the server's bookkeeping: reads of `$all`, the
 * subscription and the head leave them out.
 */
export class EventStoreDbEventStore implements EventStore {
  private closed = false;

  private constructor(
    private readonly client: EventStoreDBClient,
    private readonly pageSize: number,
  ) {}

  /**
   * Connects and reads the head of `$all`, so an unreachable server or a
   * user without access to `$all` fails at start, not on the first request.
   */
  static async connect(connectionString: string, options: EventStoreDbOptions = {}): Promise<EventStoreDbEventStore> {
    const client = EventStoreDBClient.connectionString(connectionString);
    const store = new EventStoreDbEventStore(client, options.pageSize ?? PAGE_SIZE);
    try {
      await store.headPosition();
    } catch (error) {
      await client.dispose();
      throw error;
    }
    return store;
  }

  /**
   * A server that does not answer, or not in time, gets the same append
   * again, with the same event ids and expected revision: if the first attempt
   * was in fact written, the server recognises the ids and answers as it did
   * then, so the events are stored once.
   */
  async append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (this.closed) throw new EventStoreUnavailableError('event store is closed');
    if (events.length === 0) throw new Error('append needs at least one event');
    const data = events.map(toEventData);
    const expectedRevision = toExpectedRevision(expected);
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await withTimeout(
          this.client.appendToStream(stream, data, { expectedRevision, deadline: APPEND_ATTEMPT_TIMEOUT_MS }),
          APPEND_ATTEMPT_TIMEOUT_MS,
        );
        return await this.appendResult(stream, expected, result, attempt > 0);
      } catch (error) {
        const failure = toStoreError(error, stream, expected);
        if (!(failure instanceof EventStoreUnavailableError) || attempt >= APPEND_RETRY_DELAYS_MS.length || this.closed) {
          throw failure;
        }
        await delay(APPEND_RETRY_DELAYS_MS[attempt]);
      }
    }
  }

  private async appendResult(
    stream: string,
    expected: ExpectedRevision,
    result: EsdbAppendResult,
    retried: boolean,
  ): Promise<AppendResult> {
    const revision = Number(result.nextExpectedRevision);
    if (!result.success) {
      // Only when the connection string sets throwOnAppendFailure=false.
      throw new WrongExpectedRevisionError(stream, expected, revision < 0 ? 'no_stream' : revision);
    }
    // An append the server recognised as already written reports no reliable position of its own.
    const reported = result.position;
    const at =
      reported && reported.commit >= 0n && !retried ? appendedPosition(reported) : await this.positionOf(stream, revision);
    return { nextRevision: revision, position: at };
  }

  private async positionOf(stream: string, revision: number): Promise<Position> {
    const [event] = await this.readStreamPage(stream, BigInt(revision), 1);
    if (!event) throw new Error(`stream ${JSON.stringify(stream)} has no revision ${revision} right after appending it`);
    return event.position;
  }

  /** Events are timed by the server's clock, as they commit: there is nothing here to wait for. */
  async settle(): Promise<void> {
    if (this.closed) throw new EventStoreUnavailableError('event store is closed');
  }

  async *readStream(stream: string, options: { fromRevision?: number } = {}): AsyncIterable<RecordedEvent> {
    let from = BigInt(options.fromRevision ?? 0);
    for (;;) {
      const page = await this.readStreamPage(stream, from, this.pageSize);
      yield* page;
      if (page.length < this.pageSize) return;
      from = BigInt(page[page.length - 1].revision) + 1n;
    }
  }

  private async readStreamPage(stream: string, from: bigint, maxCount: number): Promise<RecordedEvent[]> {
    const page: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, { fromRevision: from, maxCount, direction: FORWARDS, resolveLinkTos: false });
      for await (const resolved of read) {
        if (resolved.event) page.push(toRecordedEvent(resolved.event));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw toStoreError(error);
    }
    return page;
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    for await (const page of this.pagesUpToHead(options, this.pageSize)) yield* page;
  }

  /** Whole recorded events: the server sends them whole anyway. */
  readAllPages(options: ReadAllPagesOptions = {}): AsyncIterable<readonly LoggedEvent[]> {
    return this.pagesUpToHead(options, options.pageSize ?? this.pageSize);
  }

  /** A partition is read by filtering here: the server has no such filter, so each share costs a read of the whole log. */
  private async *pagesUpToHead(options: ReadAllPagesOptions, pageSize: number): AsyncIterable<RecordedEvent[]> {
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
    const partition = checkPartition(options.partition);
    const head = await this.lastPosition();
    if (head === undefined) return;
    const { streamPrefix } = options;
    const after = options.after && options.after.commit >= 0n ? options.after : undefined;
    const read = (from: Position | undefined, count: number) => this.readAllPage(from ?? START, FORWARDS, count);
    for await (const page of pagesUpTo(read, head, after, pageSize)) {
      const events: RecordedEvent[] = [];
      for (const event of page) {
        if (isSystemStream(event.streamId)) continue;
        if (streamPrefix !== undefined && !event.streamId.startsWith(streamPrefix)) continue;
        if (partition !== undefined && streamPartition(event.streamId, partition.count) !== partition.index) continue;
        events.push(toRecordedEvent(event));
      }
      if (events.length > 0) yield events;
    }
  }

  private async readAllPage(
    from: ReadPosition,
    direction: typeof FORWARDS | typeof BACKWARDS,
    maxCount: number,
  ): Promise<AllStreamRecordedEvent[]> {
    const page: AllStreamRecordedEvent[] = [];
    try {
      const read = this.client.readAll({ fromPosition: from, direction, maxCount, resolveLinkTos: false });
      for await (const resolved of read) {
        if (resolved.event) page.push(resolved.event);
      }
    } catch (error) {
      throw toStoreError(error);
    }
    return page;
  }

  /**
   * Follows `$all` with a catch-up subscription filtered on the server by
   * stream prefix. Caught-up and checkpoint messages carry no event: the
   * client never hands them on as data, so they show here only as the stream
   * going quiet, which hands on the page gathered so far.
   *
   * The subscription ending while no one asked it to is a drop, reported as
   * an error so the caller resubscribes from what it last applied.
   */
  async *subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<readonly RecordedEvent[]> {
    const { signal, streamPrefix } = options;
    if (signal?.aborted || this.closed) return;
    const after = options.after && options.after.commit >= 0n ? options.after : undefined;
    const subscription = this.client.subscribeToAll(
      {
        fromPosition: after ?? START,
        resolveLinkTos: false,
        filter:
          streamPrefix === undefined
            ? streamNameFilter({ regex: '^[^$]' })
            : streamNameFilter({ prefixes: [streamPrefix] }),
      },
      { highWaterMark: this.pageSize },
    );
    const stop = () => {
      void subscription.unsubscribe().catch(() => undefined);
      subscription.destroy();
    };
    signal?.addEventListener('abort', stop, { once: true });
    const toEvent = (resolved: AllStreamResolvedEvent): RecordedEvent | undefined => {
      if (!resolved.event) return undefined;
      const event = toRecordedEvent(resolved.event);
      return after !== undefined && comparePositions(event.position, after) <= 0 ? undefined : event;
    };
    try {
      yield* pagesOf(subscription, toEvent, this.pageSize);
      if (!signal?.aborted) throw new EventStoreUnavailableError('EventStoreDB ended the subscription to $all');
    } catch (error) {
      if (signal?.aborted) return;
      throw toStoreError(error);
    } finally {
      signal?.removeEventListener('abort', stop);
      await subscription.unsubscribe().catch(() => undefined);
    }
  }

  /** Position of the last event outside the system streams. */
  async headPosition(): Promise<Position | undefined> {
    const probe = 100;
    let from: ReadPosition = END;
    let previous: Position | undefined;
    for (;;) {
      const page = await this.readAllPage(from, BACKWARDS, probe);
      for (const event of page) {
        if (previous !== undefined && comparePositions(event.position, previous) >= 0) continue;
        if (!isSystemStream(event.streamId)) return position(event.position.commit, event.position.prepare);
      }
      if (page.length < probe) return undefined;
      previous = page[page.length - 1].position;
      from = previous;
    }
  }

  /** Position of the last event of `$all`, system streams included. */
  private async lastPosition(): Promise<Position | undefined> {
    const [last] = await this.readAllPage(END, BACKWARDS, 1);
    return last && position(last.position.commit, last.position.prepare);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.dispose();
  }
}

/** The attempt's own outcome, or an unavailable store once `ms` have passed without one. */
function withTimeout<T>(attempt: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EventStoreUnavailableError(`EventStoreDB did not answer within ${ms} ms`)), ms);
  });
  // A late failure of an abandoned attempt has no one left to tell.
  attempt.catch(() => undefined);
  return Promise.race([attempt, timeout]).finally(() => clearTimeout(timer));
}
