import Database from 'better-sqlite3';
import { join } from 'node:path';
import { EVENT_STORE, EventStore, EventStoreUnavailableError } from '@visitorbase/event-store';
import { ReplayLine } from '@visitorbase/users';
import { DEV_KEY, PROD_KEY, useApp } from './support';

const dev = { Authorization: `API-Key ${DEV_KEY}` };
const prod = { Authorization: `API-Key ${PROD_KEY}` };

/** A replay line as parsed from the wire: its data is an event's JSON object. */
type Line = ReplayLine & { data: Record<string, unknown> };

describe('GET /v2/events', () => {
  const app = useApp();
  let midpoint: number;

  const replay = async (query = '', headers = dev): Promise<Line[]> => {
    const res = await app.http.get(`/v2/events${query}`).set(headers).buffer(true).parse((r, done) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => done(null, text));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const text = res.body as string;
    return text === '' ? [] : text.trimEnd().split('\n').map((l) => JSON.parse(l));
  };
  const post = (body: unknown, headers = dev) =>
    app.http.post('/v2/users').set(headers).set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(202);

  beforeAll(async () => {
    await post({ userId: 'ana', attributes: { plan: 'free', 'a.b': 1, __proto__x: true }, events: [{ event: 'Opened', timestamp: 1 }] });
    await post({ userId: 'bo/b', events: [{ event: 'Paid', timestamp: 2 }, { event: 'Opened', timestamp: 3 }] });
    await post({ userId: 'ana', emailAddress: 'ana@example.com' }, prod);
    await new Promise((r) => setTimeout(r, 5));
    midpoint = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await post({ userId: 'ana', events: [{ event: 'Paid', timestamp: 4 }] });
  });

  it('streams the caller environment events in global order, data byte for byte as stored', async () => {
    const lines = await replay();
    expect(lines.map((l) => [l.userId, l.type])).toEqual([
      ['ana', 'UserUpserted'],
      ['ana', 'EventTracked'],
      ['bo/b', 'UserUpserted'],
      ['bo/b', 'EventTracked'],
      ['bo/b', 'EventTracked'],
      ['ana', 'UserUpserted'],
      ['ana', 'EventTracked'],
    ]);
    expect(lines.every((l) => l.environment === 'development')).toBe(true);
    expect(lines.map((l) => l.revision)).toEqual([0, 1, 0, 1, 2, 2, 3]);
    const positions = lines.map((l) => Number(l.position));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(Object.keys(lines[0])).toEqual(['environment', 'userId', 'stream', 'revision', 'position', 'type', 'data', 'recordedAt']);
    const db = new Database(join(app.dataDir, 'events.sqlite'), { readonly: true });
    try {
      const stored = db.prepare('SELECT data FROM events WHERE position = ?');
      for (const line of lines) {
        expect(JSON.stringify(line.data)).toBe((stored.get(Number(line.position)) as { data: string }).data);
      }
    } finally {
      db.close();
    }
  });

  it('never shows another environment', async () => {
    const lines = await replay('', prod);
    expect(lines.map((l) => [l.environment, l.userId, l.type])).toEqual([['production', 'ana', 'UserUpserted']]);
    expect(lines[0].data.emailAddress).toBe('ana@example.com');
    expect(await replay('?userId=bo%2Fb', prod)).toEqual([]);
  });

  it('filters by userId, type, time, position and count', async () => {
    const all = await replay();
    expect((await replay('?userId=bo%2Fb')).map((l) => l.revision)).toEqual([0, 1, 2]);
    expect((await replay('?type=EventTracked')).map((l) => l.data.event)).toEqual(['Opened', 'Paid', 'Opened', 'Paid']);
    expect((await replay('?userId=ana&type=EventTracked')).map((l) => l.data.event)).toEqual(['Opened', 'Paid']);
    expect((await replay(`?since=${midpoint}`)).map((l) => [l.type, l.data.event])).toEqual([
      ['UserUpserted', undefined],
      ['EventTracked', 'Paid'],
    ]);
    expect(await replay(`?until=${midpoint}`)).toHaveLength(all.length - 2);
    expect(await replay(`?since=${encodeURIComponent(new Date(midpoint).toISOString())}`)).toHaveLength(2);
    expect(await replay(`?fromPosition=${all[4].position}`)).toEqual(all.slice(5));
    expect(await replay('?limit=2')).toEqual(all.slice(0, 2));
    expect(await replay(`?fromPosition=${all[1].position}&limit=1`)).toEqual([all[2]]);
  });

  it('rejects malformed filters with every problem named', async () => {
    const res = await app.http.get('/v2/events?since=yesterday&limit=0&fromPosition=x&colour=red').set(dev);
    expect(res.status).toBe(400);
    expect(res.body.message).toEqual(
      expect.arrayContaining([
        'query parameter colour is not supported',
        'since must be milliseconds since the epoch or an ISO 8601 time such as 2026-11-28 or 2026-11-28T09:30:00Z',
        'fromPosition must be a position as printed in a replay line',
        'limit must be an integer from 1 to 999999999',
      ]),
    );
    // What would match nothing by mistake is refused too: a misspelt type, a day that does not exist.
    const mistaken = await app.http.get('/v2/events?type=eventtracked&until=2026-02-30&since=2026-11-31T00:00:00Z').set(dev);
    expect(mistaken.status).toBe(400);
    expect(mistaken.body.message).toEqual([
      'type must be UserUpserted or EventTracked',
      'since is not a date of the calendar: 2026-11-31T00:00:00Z',
      'until is not a date of the calendar: 2026-02-30',
    ]);
    // And what would pick a window other than the one meant: a time read in the server's time
    // zone, a year or seconds taken for milliseconds of 1970, an offset whose + became a space.
    const ambiguous = await app.http.get('/v2/events?since=2026-11-28T00:00&until=2027').set(dev);
    expect(ambiguous.body.message).toEqual([
      'since must give its offset, Z for UTC (2026-11-28T00:00Z), or be milliseconds since the epoch',
      'until must be milliseconds since the epoch (13 digits today) or an ISO 8601 time: 2027 would be 1970-01-01T00:00:02.027Z',
    ]);
    const spaced = await app.http.get('/v2/events?since=2026-11-28T02:05:00+01:00').set(dev);
    expect(spaced.body.message).toEqual([
      'since must be milliseconds since the epoch or an ISO 8601 time such as 2026-11-28 or 2026-11-28T09:30:00Z (in a URL, write the + of an offset as %2B)',
    ]);
    expect((await app.http.get('/v2/events?since=2026-11-28T02:05:00%2B01:00').set(dev)).status).toBe(200);
    // A broken escape is refused, as in a path, rather than matched as the text it is.
    for (const query of ['userId=%FF', 'userId=%G1', 'userId=50%']) {
      const broken = await app.http.get(`/v2/events?${query}`).set(dev);
      expect([query, broken.status, broken.body.message]).toEqual([
        query,
        400,
        ['the query string is not valid percent-encoded UTF-8: encode each value with encodeURIComponent'],
      ]);
    }
    expect((await app.http.get('/v2/events?userId=50%25').set(dev)).status).toBe(200);
    expect((await app.http.get('/v2/events?since=2024-02-29&type=UserUpserted').set(dev)).status).toBe(200);
    const inherited = await app.http.get('/v2/events?constructor=x&toString=1').set(dev);
    expect(inherited.status).toBe(400);
    expect(inherited.body.message).toEqual(['query parameter constructor is not supported', 'query parameter toString is not supported']);
  });

  it('needs a key', async () => {
    await app.http.get('/v2/events').expect(401);
  });

  it('answers 503 when the log cannot be read, and cuts an answer short, as a failure, when it fails part-way', async () => {
    const store = app.running.app.get<EventStore>(EVENT_STORE);
    const readAll = store.readAll.bind(store);
    const failing = jest.spyOn(store, 'readAll').mockImplementation(async function* () {
      throw new EventStoreUnavailableError('the store is down');
    });
    try {
      const down = await app.http.get('/v2/events').set(dev);
      expect([down.status, down.headers['retry-after']]).toEqual([503, '1']);
      // Two lines, then the read fails.
      failing.mockImplementation(async function* (options) {
        let n = 0;
        for await (const event of readAll(options)) {
          if (n++ === 3) throw new Error('a page could not be read');
          yield event;
        }
      });
      const cut = await fetch(`${app.running.url}/v2/events`, { headers: dev });
      expect(cut.status).toBe(200);
      await expect(cut.text()).rejects.toThrow();
    } finally {
      failing.mockRestore();
    }
    // Counted as a server failure, not as a client that gave up.
    const metrics = (await app.http.get('/metrics').expect(200)).text;
    expect(metrics).not.toContain('visitorbase_http_requests_aborted_total{route="/v2/events"');
    expect(metrics).toContain('visitorbase_http_requests_total{route="/v2/events",method="GET",status="500"} 1');
  });
});
