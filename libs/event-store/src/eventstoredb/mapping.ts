import {
  ANY,
  AppendExpectedRevision,
  CancelledError,
  DeadlineExceededError,
  EventData,
  NO_STREAM,
  NotLeaderError,
  RecordedEvent as EsdbRecordedEvent,
  STREAM_EXISTS,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
  convertToCommandError,
  jsonEvent,
} from '@eventstore/db-client';
import {
  EventIdConflictError,
  EventStoreUnavailableError,
  ExpectedRevision,
  NewEvent,
  RecordedEvent,
  WrongExpectedRevisionError,
} from '../event-store.port';
import { Position, position } from '../position';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Streams whose name starts with `$` are the server's own bookkeeping, never ours. */
export function isSystemStream(stream: string): boolean {
  return stream.startsWith('$');
}

/**
 * The event as EventStoreDB stores it. The caller's id becomes the event id,
 * which is what lets the server recognise a retried append as the same one.
 */
export function toEventData(event: NewEvent): EventData {
  if (!UUID.test(event.id)) {
    throw new Error(`event id ${JSON.stringify(event.id)} is not a UUID; EventStoreDB identifies events by UUID`);
  }
  return jsonEvent({
    id: event.id,
    type: event.type,
    data: event.data as Record<string, unknown>,
    ...(event.metadata !== undefined ? { metadata: event.metadata } : {}),
  });
}

export function toExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return BigInt(expected);
  }
}

export function toRecordedEvent(event: EsdbRecordedEvent): RecordedEvent {
  if (event.position === undefined) {
    // Servers before 22.6 leave positions out of stream reads; the projection cannot checkpoint without them.
    throw new Error(`EventStoreDB gave no position for event ${event.id}: version 22.6 or later is required`);
  }
  const metadata = event.metadata;
  return {
    id: event.id,
    stream: event.streamId,
    revision: Number(event.revision),
    position: position(event.position.commit, event.position.prepare),
    type: event.type,
    data: event.data,
    metadata: isPlainObject(metadata) ? metadata : {},
    recordedAt: event.created.getTime(),
  };
}

/**
 * Position of the last event of an append. The events of one append are one
 * implicit transaction: each sits in `$all` at commit = prepare = its own log
 * position, and the server reports the log position of the last one as the
 * commit position, while the prepare position it reports may be that of the
 * first one. Taking the commit position for both gives exactly the position
 * `$all` shows for the last event.
 */
export function appendedPosition(reported: { commit: bigint }): Position {
  return position(reported.commit, reported.commit);
}

/**
 * Errors of the client as errors of the port; anything else is left as it is.
 * Some calls of the client reject with the raw gRPC error rather than its own
 * class (an append first asks the server which features it has, and that
 * question fails with the raw error while the server is down), so those are
 * classified the way the client classifies the rest first.
 */
export function toStoreError(raw: unknown, stream?: string, expected?: ExpectedRevision): Error {
  const error = raw instanceof Error ? convertToCommandError(raw) : raw;
  if (error instanceof EventStoreUnavailableError || error instanceof WrongExpectedRevisionError) return error;
  if (error instanceof WrongExpectedVersionError) {
    // With no revision expected, the server answers this only when some of the event ids were
    // written before, but not as this same append (its CorruptedIdempotency): reused ids.
    if (expected === 'any') return new EventIdConflictError(stream ?? error.streamName);
    const actual = error.actualVersion;
    return new WrongExpectedRevisionError(
      stream ?? error.streamName,
      expected ?? fromClientExpected(error.expectedVersion),
      actual === 'no_stream' ? 'no_stream' : Number(actual),
    );
  }
  if (isTransient(error)) {
    return new EventStoreUnavailableError(`EventStoreDB: ${(error as Error).message}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** gRPC statuses that blame the request: INVALID_ARGUMENT, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED. */
const REQUEST_ERROR_CODES = new Set([3, 6, 7, 9, 11, 12]);

/** Failures that say nothing about the request, only that the server could not answer it now. */
function isTransient(error: unknown): boolean {
  return (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof TimeoutError ||
    error instanceof NotLeaderError ||
    error instanceof CancelledError ||
    // What the client could not classify, unless the server said the request itself was wrong
    // (a read from a position that is not an event's): asked again, it would fail again.
    (error instanceof UnknownError && !REQUEST_ERROR_CODES.has(error.code as number)) ||
    // Cluster discovery gives up with a plain Error when no node answers.
    (error instanceof Error && error.message.startsWith('Failed to discover'))
  );
}

function fromClientExpected(expected: AppendExpectedRevision): ExpectedRevision {
  return typeof expected === 'bigint' ? Number(expected) : expected;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
