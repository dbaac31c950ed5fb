import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { NewEvent, SqliteEventStore } from '@visitorbase/event-store';
import { SqliteReadModel } from '@visitorbase/read-model';
import { EVENT_TRACKED, USER_UPSERTED, malformedData } from '../domain/events';
import { visitorStream } from '../domain/visitor-stream';
import { ProjectionWatcher } from './projection-watcher';
import { Projector } from './projector';
import { rebuildReadModel } from './rebuild';

const environment = 'development';

describe('malformedData', () => {
  it('takes what the write side appends', () => {
    expect(malformedData(USER_UPSERTED, { userId: 'u', receivedAt: 1, attributes: { plan: 'a', n: -2, ok: false } })).toBeUndefined();
    expect(malformedData(USER_UPSERTED, { userId: 'u', receivedAt: 1, attributes: {}, emailAddress: 'a@example.com' })).toBeUndefined();
    expect(malformedData(EVENT_TRACKED, { userId: 'u', event: 'Clicked', timestamp: 0 })).toBeUndefined();
  });

  it.each([
    [USER_UPSERTED, null, 'its data is not a JSON object'],
    // A binary EventStoreDB event comes as bytes.
    [USER_UPSERTED, [], 'its data is not a JSON object'],
    [USER_UPSERTED, new Uint8Array([1]), 'its data is not a JSON object'],
    [USER_UPSERTED, { receivedAt: '1', attributes: {} }, 'receivedAt is not a number'],
    [USER_UPSERTED, { receivedAt: 1 }, 'attributes is not an object'],
    [USER_UPSERTED, { receivedAt: 1, attributes: ['a'] }, 'attributes is not an object'],
    [USER_UPSERTED, { receivedAt: 1, attributes: { a: null } }, 'attribute "a" is not a string, a number or a boolean'],
    [USER_UPSERTED, { receivedAt: 1, attributes: { a: { b: 1 } } }, 'attribute "a" is not a string, a number or a boolean'],
    [USER_UPSERTED, { receivedAt: 1, attributes: {}, emailAddress: null }, 'emailAddress is not a string'],
    [EVENT_TRACKED, 'Clicked', 'its data is not a JSON object'],
    [EVENT_TRACKED, { timestamp: 1 }, 'event is not a string'],
    [EVENT_TRACKED, { event: 'Clicked' }, 'timestamp is not a number'],
    [EVENT_TRACKED, { event: 'Clicked', timestamp: '2021-02-07' }, 'timestamp is not a number'],
  ] as const)('refuses %s data %p: %s', (type, data, reason) => {
    expect(malformedData(type, data)).toBe(reason);
  });
});

describe('an event the write side would not have appended, in a visitor stream', () => {
  let dir: string;
  let store: SqliteEventStore;
  const warnings: string[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'visitorbase-malformed-'));
    store = new SqliteEventStore(join(dir, 'events.sqlite'));
    warnings.length = 0;
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const append = (userId: string, events: Array<Omit<NewEvent, 'id'>>) =>
    store.append(
      visitorStream({ environment, userId }),
      events.map((event) => ({ id: randomUUID(), ...event })),
      'any',
    );

  /** One visitor's stream with a foreign event between two of the service's, and another visitor after it. */
  async function seed() {
    await append('u1', [
      { type: USER_UPSERTED, data: { userId: 'u1', receivedAt: 10, attributes: { plan: 'free' } } },
      { type: EVENT_TRACKED, data: { userId: 'u1', event: 'Opened', timestamp: 11 } },
    ]);
    await append('u1', [
      { type: USER_UPSERTED, data: { userId: 'u1', receivedAt: 12, attributes: { plan: { tier: 'gold' } } } },
      { type: EVENT_TRACKED, data: { userId: 'u1', event: 'Opened' } },
      // The fold would throw on this one: the projection stopped here, retrying forever.
      { type: USER_UPSERTED, data: { userId: 'u1', receivedAt: 12 } },
    ]);
    await append('u1', [{ type: USER_UPSERTED, data: { userId: 'u1', receivedAt: 13, attributes: { seats: 3 } } }]);
    return append('u2', [{ type: USER_UPSERTED, data: { userId: 'u2', receivedAt: 14, attributes: {} } }]);
  }

  const expected = {
    attributes: { plan: 'free', seats: 3 },
    events: [{ event: 'Opened', count: 1, createdAt: 11, updatedAt: 11 }],
  };

  it('is skipped with a warning by the live projection, which goes on to every later event', async () => {
    const last = await seed();
    const readModel = new SqliteReadModel(join(dir, 'read-model.sqlite'));
    const projector = new Projector(store, readModel, { initialBackoffMs: 60_000 });
    projector.start();
    try {
      // A projection that stopped on the event would wait out its back-off (a minute) and never get here.
      expect(await new ProjectionWatcher(readModel, projector).waitFor(last.position, 5_000)).toBe(true);
      expect(JSON.parse((await readModel.findProfileJson(environment, 'u1'))!)).toMatchObject(expected);
      expect(await readModel.findProfileJson(environment, 'u2')).toBeDefined();
      expect(warnings).toEqual([
        expect.stringMatching(/^skipped UserUpserted at revision 2 of "visitor-.*u1" \(position .*\): attribute "plan" is not a string, a number or a boolean$/),
        expect.stringMatching(/^skipped EventTracked at revision 3 of .*: timestamp is not a number$/),
        expect.stringMatching(/^skipped UserUpserted at revision 4 of .*: attributes is not an object$/),
      ]);
    } finally {
      await projector.stop();
      await readModel.close();
    }
  });

  it('is skipped the same way by a rebuild, which folds the same profiles', async () => {
    const last = await seed();
    const live = new SqliteReadModel(join(dir, 'live.sqlite'));
    const projector = new Projector(store, live);
    projector.start();
    const rebuilt = new SqliteReadModel(join(dir, 'rebuilt.sqlite'));
    try {
      expect(await new ProjectionWatcher(live, projector).waitFor(last.position, 5_000)).toBe(true);
      const result = await rebuildReadModel(store, rebuilt);
      expect(result).toMatchObject({ events: 7, facts: 4 });
      for (const userId of ['u1', 'u2']) {
        expect(await rebuilt.findProfileJson(environment, userId)).toBe(await live.findProfileJson(environment, userId));
      }
      expect(JSON.parse((await rebuilt.findProfileJson(environment, 'u1'))!)).toMatchObject(expected);
    } finally {
      await projector.stop();
      await live.close();
      await rebuilt.close();
    }
  });
});
