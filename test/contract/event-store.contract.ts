import { randomUUID } from 'node:crypto';
import {
  EventIdConflictError,
  EventStore,
  LoggedEvent,
  NewEvent,
  RecordedEvent,
  WrongExpectedRevisionError,
  comparePositions,
  streamPartition,
} from '@visitorbase/event-store';

/**
 * What every EventStore adapter must do. Streams are named per test with a
 * fresh prefix, so the suite also runs against a long-lived server.
 */
export function eventStoreContract(open: () => Promise<EventStore>): void {
  let store: EventStore;
  let prefix: string;

  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store?.close();
  });
  beforeEach(() => {
    prefix = `contract${randomUUID().replace(/-/g, '')}-`;
  });

  const event = (type: string, data: unknown, metadata?: Record<string, unknown>): NewEvent => ({
    id: randomUUID(),
    type,
    data,
    ...(metadata ? { metadata } : {}),
  });
  const collect = async <T>(iterable: AsyncIterable<T>): Promise<T[]> => {
    const out: T[] = [];
    for await (const item of iterable) out.push(item);
    return out;
  };

  it('appends to a new stream from revision 0 and reads it back exactly', async () => {
    const stream = `${prefix}a`;
    const data = { userId: 'ü 🙂/%#', attributes: { 'a.b': 1, $c: true, __proto__x: 'x' }, nested: [1, 'two'] };
    const result = await store.append(stream, [event('UserUpserted', data, { environment: 'development' }), event('EventTracked', { n: 2 })], 'no_stream');
    expect(result.nextRevision).toBe(1);
    const read = await collect(store.readStream(stream));
    expect(read.map((e) => [e.revision, e.type, e.stream])).toEqual([
      [0, 'UserUpserted', stream],
      [1, 'EventTracked', stream],
    ]);
    expect(read[0].data).toEqual(data);
    expect(read[0].metadata).toEqual({ environment: 'development' });
    expect(comparePositions(read[0].position, read[1].position)).toBeLessThan(0);
    expect(comparePositions(read[1].position, result.position)).toBe(0);
    expect(typeof read[0].recordedAt).toBe('number');
    expect(Math.abs(read[0].recordedAt - Date.now())).toBeLessThan(60_000);
  });

  it('keeps a __proto__ key in event data as data', async () => {
    const stream = `${prefix}proto`;
    const data = JSON.parse('{"attributes":{"__proto__":"x","constructor":1}}');
    await store.append(stream, [event('UserUpserted', data)], 'any');
    const [read] = await collect(store.readStream(stream));
    expect(Object.keys((read.data as { attributes: object }).attributes)).toEqual(['__proto__', 'constructor']);
    expect(JSON.stringify(read.data)).toBe(JSON.stringify(data));
  });

  it('checks the expected revision and appends nothing when it is wrong', async () => {
    const stream = `${prefix}b`;
    await expect(store.append(stream, [event('T', {})], 'stream_exists')).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    await store.append(stream, [event('T', { i: 0 })], 'no_stream');
    await expect(store.append(stream, [event('T', {})], 'no_stream')).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    await expect(store.append(stream, [event('T', {})], 5)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    await store.append(stream, [event('T', { i: 1 })], 0);
    await store.append(stream, [event('T', { i: 2 })], 'stream_exists');
    const read = await collect(store.readStream(stream));
    expect(read.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  it('treats a retried append with the same event ids as the same append', async () => {
    const stream = `${prefix}c`;
    const events = [event('T', { i: 0 }), event('T', { i: 1 })];
    const first = await store.append(stream, events, 'no_stream');
    const retry = await store.append(stream, events, 'no_stream');
    expect(retry.nextRevision).toBe(first.nextRevision);
    // A store may not know that a retry wrote nothing, but never says so of a first append.
    expect(first.replayed).toBeFalsy();
    expect([undefined, true]).toContain(retry.replayed);
    expect(await collect(store.readStream(stream))).toHaveLength(2);
  });

  it('refuses event ids reused, right after, by another append to the same stream', async () => {
    // On EventStoreDB this rests on the server's check of recent ids for appends that expect no revision.
    const stream = `${prefix}reused`;
    const [a, b, c] = [event('T', { i: 0 }), event('T', { i: 1 }), event('T', { i: 2 })];
    await store.append(stream, [a, b], 'any');
    await expect(store.append(stream, [a, c], 'any')).rejects.toBeInstanceOf(EventIdConflictError);
    expect((await collect(store.readStream(stream))).map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }]);
  });

  it('appends concurrent writes to one stream without losing any, each atomically', async () => {
    const stream = `${prefix}d`;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.append(stream, [event('T', { i, part: 0 }), event('T', { i, part: 1 })], 'any')),
    );
    expect(new Set(results.map((r) => r.nextRevision)).size).toBe(50);
    const read = await collect(store.readStream(stream));
    expect(read.map((e) => e.revision)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    for (let r = 0; r < 100; r += 2) {
      expect(read[r].data).toEqual({ i: (read[r].data as { i: number }).i, part: 0 });
      expect(read[r + 1].data).toEqual({ i: (read[r].data as { i: number }).i, part: 1 });
    }
  });

  it('fails one concurrent append on its revision without failing the others', async () => {
    const good = `${prefix}e1`;
    const bad = `${prefix}e2`;
    await store.append(bad, [event('T', {})], 'no_stream');
    const outcomes = await Promise.allSettled([
      store.append(good, [event('T', {})], 'no_stream'),
      store.append(bad, [event('T', {})], 'no_stream'),
      store.append(`${prefix}e3`, [event('T', {})], 'any'),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await collect(store.readStream(bad))).toHaveLength(1);
  });

  it('reads a long stream page by page, from any revision', async () => {
    const stream = `${prefix}long`;
    for (let batch = 0; batch < 5; batch++) {
      await store.append(stream, Array.from({ length: 500 }, (_, i) => event('T', { i: batch * 500 + i })), 'any');
    }
    const read = await collect(store.readStream(stream));
    expect(read).toHaveLength(2500);
    expect(read.every((e, i) => (e.data as { i: number }).i === i && e.revision === i)).toBe(true);
    const tail = await collect(store.readStream(stream, { fromRevision: 2490 }));
    expect(tail.map((e) => e.revision)).toEqual(Array.from({ length: 10 }, (_, i) => 2490 + i));
  });

  it('reads a missing stream as empty', async () => {
    expect(await collect(store.readStream(`${prefix}missing`))).toEqual([]);
  });

  it('reads all events in global order after a position, filtered by stream prefix', async () => {
    const before = await store.headPosition();
    await store.append(`${prefix}x-1`, [event('T', { n: 1 }), event('T', { n: 2 })], 'any');
    await store.append(`other${prefix}`, [event('T', { n: 99 })], 'any');
    await store.append(`${prefix}x-2`, [event('T', { n: 3 })], 'any');
    const all = await collect(store.readAll({ after: before, streamPrefix: prefix }));
    expect(all.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3]);
    for (let i = 1; i < all.length; i++) expect(comparePositions(all[i - 1].position, all[i].position)).toBeLessThan(0);
    const fromSecond = await collect(store.readAll({ after: all[0].position, streamPrefix: prefix }));
    expect(fromSecond.map((e) => (e.data as { n: number }).n)).toEqual([2, 3]);
    const head = await store.headPosition();
    expect(head && comparePositions(head, all[2].position)).toBeGreaterThanOrEqual(0);
  });

  it('reads the same events a page at a time, in pages of at most the size asked, none empty, up to the head when called', async () => {
    const before = await store.headPosition();
    for (let n = 0; n < 7; n++) {
      await store.append(`${prefix}p-${n % 3}`, [event('T', { n: 2 * n }), event('T', { n: 2 * n + 1 })], 'any');
      // Interleaved events of other streams fall out of pages without leaving empty ones.
      await store.append(`other${prefix}${n}`, [event('T', { n: -1 }), event('T', { n: -1 }), event('T', { n: -1 })], 'any');
    }
    const pages = await collect(store.readAllPages({ after: before, streamPrefix: prefix, pageSize: 4 }));
    const events = await collect(store.readAll({ after: before, streamPrefix: prefix }));
    expect(pages.flat().map((e) => (e.data as { n: number }).n)).toEqual(Array.from({ length: 14 }, (_, i) => i));
    const logged = ({ stream, revision, position, type, data }: LoggedEvent): LoggedEvent => ({ stream, revision, position, type, data });
    expect(pages.flat().map(logged)).toEqual(events.map(logged));
    expect(pages.every((page) => page.length > 0 && page.length <= 4)).toBe(true);
    expect(pages.length).toBeGreaterThan(3);
    // Pages of one event each: reading from a position that is an event's gives that event first.
    const single = await collect(store.readAllPages({ after: before, streamPrefix: prefix, pageSize: 1 }));
    expect(single.flat().map(logged)).toEqual(events.map(logged));

    const head = await store.headPosition();
    const reading = store.readAllPages({ after: before, streamPrefix: prefix, pageSize: 2 })[Symbol.asyncIterator]();
    const first = await reading.next();
    await store.append(`${prefix}late`, [event('T', { n: 100 })], 'any');
    const rest: LoggedEvent[] = [...(first.value as LoggedEvent[])];
    for (let next = await reading.next(); !next.done; next = await reading.next()) rest.push(...next.value);
    expect(rest.map((e) => (e.data as { n: number }).n)).toEqual(Array.from({ length: 14 }, (_, i) => i));
    expect(comparePositions(rest[rest.length - 1].position, head!)).toBeLessThanOrEqual(0);
  });

  it('reads the log in disjoint shares of whole streams that together are the whole log, each in log order', async () => {
    const before = await store.headPosition();
    const streams = Array.from({ length: 24 }, (_, i) => `${prefix}user${i}@example.com`);
    for (let round = 0; round < 3; round++) {
      for (const [i, stream] of streams.entries()) await store.append(stream, [event('T', { i, round })], 'any');
    }
    const whole = (await collect(store.readAllPages({ after: before, streamPrefix: prefix }))).flat();
    expect(whole).toHaveLength(72);
    const count = 3;
    const shares = await Promise.all(
      Array.from({ length: count }, async (_, index) =>
        (await collect(store.readAllPages({ after: before, streamPrefix: prefix, pageSize: 5, partition: { index, count } }))).flat(),
      ),
    );
    shares.forEach((share, index) => {
      expect(share.every((e) => streamPartition(e.stream, count) === index)).toBe(true);
      const positions = share.map((e) => e.position);
      expect(positions.every((p, i) => i === 0 || comparePositions(positions[i - 1], p) < 0)).toBe(true);
      // Whole streams: every round of each of its streams.
      for (const stream of new Set(share.map((e) => e.stream))) expect(share.filter((e) => e.stream === stream)).toHaveLength(3);
    });
    // 24 streams hashed into 3 shares land in more than one (all in one: about once in 10^11 runs).
    expect(shares.filter((share) => share.length > 0).length).toBeGreaterThan(1);
    const merged = shares.flat().sort((a, b) => comparePositions(a.position, b.position));
    const logged = ({ stream, revision, position, type, data }: LoggedEvent): LoggedEvent => ({ stream, revision, position, type, data });
    expect(merged.map(logged)).toEqual(whole.map(logged));
    expect((await collect(store.readAllPages({ after: before, streamPrefix: prefix, partition: { index: 0, count: 1 } }))).flat().map(logged)).toEqual(
      whole.map(logged),
    );
    for (const partition of [{ index: 2, count: 2 }, { index: -1, count: 2 }, { index: 0, count: 0 }, { index: 0.5, count: 2 }]) {
      await expect(collect(store.readAllPages({ after: before, partition }))).rejects.toThrow(RangeError);
    }
  });

  it('follows the log: catches up, then delivers new appends until aborted', async () => {
    const before = await store.headPosition();
    await store.append(`${prefix}s`, [event('T', { n: 1 })], 'any');
    const abort = new AbortController();
    const seen: RecordedEvent[] = [];
    const following = (async () => {
      for await (const page of store.subscribeToAll({ after: before, streamPrefix: prefix, signal: abort.signal })) {
        seen.push(...page);
        if (seen.length >= 3) abort.abort();
      }
    })();
    await waitFor(() => seen.length >= 1);
    await store.append(`${prefix}s`, [event('T', { n: 2 })], 'any');
    await store.append(`${prefix}t`, [event('T', { n: 3 })], 'any');
    await following;
    expect(seen.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3]);
  });

  it('keeps stream names with any characters apart', async () => {
    const names = [`${prefix}a-b`, `${prefix}a`, `${prefix}a/b c%23#`, `${prefix}ü🙂`, `${prefix}a-b-`];
    for (const [i, name] of names.entries()) await store.append(name, [event('T', { i })], 'no_stream');
    for (const [i, name] of names.entries()) {
      const read = await collect(store.readStream(name));
      expect(read.map((e) => [e.stream, e.data])).toEqual([[name, { i }]]);
    }
  });
}

export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
