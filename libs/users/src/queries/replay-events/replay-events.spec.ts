import { EventStore, RecordedEvent, SubscribeOptions, position } from '@visitorbase/event-store';
import { USER_UPSERTED } from '../../domain/events';
import { ReplayLine, readTime, replayEvents } from './replay-events';

describe('readTime', () => {
  it.each([
    ['1795824000000', 1795824000000],
    ['10000000000', 10000000000],
    ['2026-11-28', Date.UTC(2026, 10, 28)],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    ['2026-11-28T09:30Z', Date.UTC(2026, 10, 28, 9, 30)],
    ['2026-11-28T09:30:15.250Z', Date.UTC(2026, 10, 28, 9, 30, 15, 250)],
    ['2026-11-28T09:30:00+01:00', Date.UTC(2026, 10, 28, 8, 30)],
    ['2026-11-28T09:30:00-0530', Date.UTC(2026, 10, 28, 15, 0)],
  ])('reads %s', (text, ms) => {
    expect(readTime(text)).toBe(ms);
  });

  it('reads a time the same whatever the time zone of the process', () => {
    // Only an explicit offset or a date alone (midnight UTC) are taken: nothing depends on TZ.
    for (const text of ['2026-11-28T09:30', '2026-11-28T09:30:00', '2026-11-28 09:30']) expect(typeof readTime(text)).toBe('string');
  });

  it.each([
    ['2027', /2027 would be 1970-01-01T00:00:02\.027Z/],
    ['20261201', /would be 1970-01-01T05:37:41\.201Z/],
    ['1795827820', /13 digits today/],
    ['12345678901234567', /must be milliseconds since the epoch or an ISO 8601 time$/],
    ['yesterday', /such as 2026-11-28/],
    ['2026-11-28T02:05:00 01:00', /write the \+ of an offset as %2B/],
    ['2026-02-30', /not a date of the calendar/],
    ['2026-11-28T23:59:60Z', /not a time/],
  ])('refuses %s, saying why', (text, reason) => {
    expect(readTime(text)).toMatch(reason);
  });
});

describe('replayEvents, following until a time', () => {
  it('takes an event recorded before the time that the log shows only a moment after it', async () => {
    const until = Date.now() + 100;
    const late: RecordedEvent = {
      id: 'e-1',
      stream: 'visitor-development-u1',
      revision: 0,
      position: position(1n),
      type: USER_UPSERTED,
      data: { userId: 'u1', receivedAt: until - 1, attributes: {} },
      metadata: {},
      recordedAt: until - 1,
    };
    // Committed 300 ms after `until`, though recorded before it; nothing comes after it.
    const store = {
      subscribeToAll: async function* (options: SubscribeOptions) {
        await new Promise((resolve) => setTimeout(resolve, until + 300 - Date.now()));
        if (!options.signal?.aborted) yield [late];
        if (!options.signal?.aborted) await new Promise((resolve) => options.signal?.addEventListener('abort', resolve, { once: true }));
      },
      readAll: async function* () {},
      settle: async () => undefined,
    } as unknown as EventStore;
    const lines: ReplayLine[] = [];
    for await (const line of replayEvents(store, { environment: 'development', follow: true, until })) lines.push(line);
    expect(lines.map((line) => line.userId)).toEqual(['u1']);
  });
});
