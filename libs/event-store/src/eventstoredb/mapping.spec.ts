import {
  ANY,
  AccessDeniedError,
  DeadlineExceededError,
  JSONRecordedEvent,
  NO_STREAM,
  STREAM_EXISTS,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { EventIdConflictError, EventStoreUnavailableError, WrongExpectedRevisionError } from '../event-store.port';
import { position } from '../position';
import { appendedPosition, isSystemStream, toEventData, toExpectedRevision, toRecordedEvent, toStoreError } from './mapping';

const id = '0b0f1c1e-9a8d-4e2f-b3c0-5d7a2e94c811';

/** A recorded event as the client hands it over, written out as plain data. */
function recorded(overrides: Partial<JSONRecordedEvent> = {}): JSONRecordedEvent {
  return {
    streamId: 'visitor-development-a-b',
    id,
    isJson: true,
    revision: 7n,
    type: 'UserUpserted',
    created: new Date(1_700_000_000_123),
    data: { userId: 'a-b' },
    metadata: { environment: 'development' },
    position: { commit: 4242n, prepare: 4242n },
    ...overrides,
  } as JSONRecordedEvent;
}

describe('EventStoreDB mapping', () => {
  describe('toEventData', () => {
    it('keeps the caller id as the event id, with type, data and metadata as JSON', () => {
      const data = JSON.parse('{"userId":"u","attributes":{"__proto__":"x","a.b":1,"$set":true}}');
      expect(toEventData({ id, type: 'UserUpserted', data, metadata: { environment: 'production' } })).toEqual({
        id,
        contentType: 'application/json',
        type: 'UserUpserted',
        data,
        metadata: { environment: 'production' },
      });
    });

    it('leaves metadata out when there is none', () => {
      expect(toEventData({ id, type: 'T', data: {} }).metadata).toBeUndefined();
    });

    it('refuses an id the server could not take as an event id', () => {
      expect(() => toEventData({ id: 'not-a-uuid', type: 'T', data: {} })).toThrow(/not a UUID/);
    });
  });

  describe('toRecordedEvent', () => {
    it('gives the port’s view of a recorded event', () => {
      expect(toRecordedEvent(recorded())).toEqual({
        id,
        stream: 'visitor-development-a-b',
        revision: 7,
        position: position(4242n),
        type: 'UserUpserted',
        data: { userId: 'a-b' },
        metadata: { environment: 'development' },
        recordedAt: 1_700_000_000_123,
      });
    });

    it('reads missing or non-JSON metadata as empty', () => {
      expect(toRecordedEvent(recorded({ metadata: undefined })).metadata).toEqual({});
      expect(toRecordedEvent(recorded({ metadata: new Uint8Array([1, 2]) })).metadata).toEqual({});
    });

    it('round-trips what toEventData wrote, through JSON as the client sends and reads it', () => {
      const data = JSON.parse('{"userId":"u","attributes":{"__proto__":"p","a.b":1},"event":"a.b$c"}');
      const event = { id, type: 'EventTracked', data, metadata: { environment: 'e' } };
      const written = toEventData(event);
      const wire = (value: unknown) => JSON.parse(JSON.stringify(value));
      const read = toRecordedEvent(recorded({ id: written.id, type: written.type, data: wire(written.data), metadata: wire(written.metadata) }));
      expect({ id: read.id, type: read.type, data: read.data, metadata: read.metadata }).toEqual(event);
      expect(JSON.stringify(read.data)).toBe(JSON.stringify(data));
    });

    it('refuses an event without a position rather than inventing one', () => {
      expect(() => toRecordedEvent(recorded({ position: undefined }))).toThrow(/22\.6/);
    });
  });

  it('maps every expected revision of the port', () => {
    expect(toExpectedRevision('any')).toBe(ANY);
    expect(toExpectedRevision('no_stream')).toBe(NO_STREAM);
    expect(toExpectedRevision('stream_exists')).toBe(STREAM_EXISTS);
    expect(toExpectedRevision(0)).toBe(0n);
    expect(toExpectedRevision(41)).toBe(41n);
  });

  it('places an append at the commit position the server reports, as $all shows its last event', () => {
    expect(appendedPosition({ commit: 900n })).toEqual(position(900n, 900n));
  });

  it('recognises system streams', () => {
    expect(isSystemStream('$stats-127.0.0.1:2113')).toBe(true);
    expect(isSystemStream('$$visitor-development-u')).toBe(true);
    expect(isSystemStream('visitor-development-$u')).toBe(false);
  });

  describe('toStoreError', () => {
    it('turns a wrong expected version into the port’s error, with what was expected and found', () => {
      const error = toStoreError(
        new WrongExpectedVersionError(undefined, { streamName: 's', expected: NO_STREAM, current: 3n }),
        's',
        'no_stream',
      );
      expect(error).toBeInstanceOf(WrongExpectedRevisionError);
      expect(error).toMatchObject({ stream: 's', expected: 'no_stream', actual: 3 });
      const missing = toStoreError(new WrongExpectedVersionError(undefined, { streamName: 's', expected: STREAM_EXISTS, current: NO_STREAM }));
      expect(missing).toMatchObject({ stream: 's', expected: 'stream_exists', actual: 'no_stream' });
    });

    it('takes a wrong expected version of an append that expected none for event ids reused by another append', () => {
      const reused = toStoreError(new WrongExpectedVersionError(undefined, { streamName: 's', expected: ANY, current: 5n }), 's', 'any');
      expect(reused).toBeInstanceOf(EventIdConflictError);
      expect(reused).toMatchObject({ stream: 's' });
    });

    it('reports a server that cannot answer as unavailable, so callers may retry', () => {
      expect(toStoreError(new UnavailableError())).toBeInstanceOf(EventStoreUnavailableError);
      expect(toStoreError(new DeadlineExceededError())).toBeInstanceOf(EventStoreUnavailableError);
      expect(toStoreError(new Error('Failed to discover after 10 attempts.'))).toBeInstanceOf(EventStoreUnavailableError);
    });

    it('classifies a raw gRPC error as the client would: an append to a server that is down rejects with one', () => {
      // What @grpc/grpc-js rejects with when no connection can be made, before the client wraps anything.
      const down = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14, details: 'No connection established' });
      const failure = toStoreError(down);
      expect(failure).toBeInstanceOf(EventStoreUnavailableError);
      expect(failure.message).toBe('EventStoreDB: 14 UNAVAILABLE: No connection established');
    });

    it('does not take an error the client could not classify for an outage when the server blamed the request', () => {
      const grpc = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details });
      expect(toStoreError(grpc(13, 'internal error'))).toBeInstanceOf(EventStoreUnavailableError);
      const invalid = toStoreError(grpc(3, 'Trying to read from an invalid position.'));
      expect(invalid).not.toBeInstanceOf(EventStoreUnavailableError);
      expect(invalid).toBeInstanceOf(UnknownError);
    });

    it('leaves other failures as they are', () => {
      const denied = new AccessDeniedError();
      expect(toStoreError(denied)).toBe(denied);
      const unavailable = new EventStoreUnavailableError('closed');
      expect(toStoreError(unavailable)).toBe(unavailable);
    });
  });
});
