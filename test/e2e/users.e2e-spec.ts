import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { EVENT_STORE, EventStore } from '@visitorbase/event-store';
import { ProjectionRunner, UpsertUserCommand, UpsertUserDto, consistencyToken, idempotentEventId, requestDigest, upsertEvents, visitorStream } from '@visitorbase/users';
import { DEV_KEY, PROD_KEY, RunningApp, startApp, tempDataDir, useApp } from './support';

const auth = (key: string) => ({ Authorization: `API-Key ${key}` });
const dev = auth(DEV_KEY);
const prod = auth(PROD_KEY);

describe('v2 Users API over HTTP', () => {
  const app = useApp();

  const post = (body: unknown, headers: Record<string, string> = dev) =>
    app.http.post('/v2/users').set(headers).set('Content-Type', 'application/json').send(JSON.stringify(body));
  const get = (userId: string, headers: Record<string, string> = dev) =>
    app.http.get(`/v2/users/${encodeURIComponent(userId)}`).set(headers);
  const head = () => app.running.app.get<EventStore>(EVENT_STORE).headPosition();
  // Raw bytes, as sent: supertest would serialize a Buffer as JSON.
  const postBytes = (type: string, bytes: Buffer) =>
    app.http.post('/v2/users').set(dev).set('Content-Type', type).serialize((body: Buffer) => body as unknown as string).send(bytes);

  describe('the seed examples', () => {
    it('POST answers 202 with the plain body Accepted', async () => {
      const res = await post({
        userId: 'a926111b-fa62-49f7-8666-2c94ca8b18fc',
        attributes: { plan: 'enterprise', completed_flow: false },
        events: [{ event: 'Clicked Signup', timestamp: 1612739790947 }],
      });
      expect(res.status).toBe(202);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.text).toBe('Accepted');
    });

    it('GET answers the aggregated profile in the seed shape', async () => {
      const before = Date.now();
      await post({
        userId: 'seed-2',
        attributes: { plan: 'enterprise', completed_flow: false },
        events: [{ event: 'Clicked Signup', timestamp: 1612739790947 }],
      }).expect(202);
      await app.running.caughtUp();
      const res = await get('seed-2').expect(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = JSON.parse(res.text);
      expect(Object.keys(body)).toEqual(['id', 'createdAt', 'attributes', 'events']);
      expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(body.createdAt).toBeGreaterThanOrEqual(before);
      expect(body.createdAt).toBeLessThanOrEqual(Date.now());
      expect(body.attributes).toEqual({ plan: 'enterprise', completed_flow: false });
      expect(body.events).toEqual([{ event: 'Clicked Signup', count: 1, createdAt: 1612739790947, updatedAt: 1612739790947 }]);
    });

    it('GET of an unknown visitor answers 404 with the plain body Not Found', async () => {
      const res = await get('nobody-at-all').expect(404);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.text).toBe('Not Found');
    });
  });

  it('aggregates several POSTs: counts, first and last timestamps, latest attributes, email', async () => {
    await post({ userId: 'agg', attributes: { plan: 'free', seats: 1 }, events: [{ event: 'Viewed', timestamp: 5000 }] }).expect(202);
    await post({ userId: 'agg', attributes: { plan: 'pro' }, events: [{ event: 'Viewed', timestamp: 1000 }, { event: 'Paid', timestamp: 3000 }] }).expect(202);
    await post({ userId: 'agg', emailAddress: 'agg@example.com', events: [{ event: 'Viewed', timestamp: 9000 }, { event: 'Paid', timestamp: 2000 }] }).expect(202);
    await app.running.caughtUp();
    const body = (await get('agg').expect(200)).body;
    expect(body.attributes).toEqual({ plan: 'pro', seats: 1 });
    expect(body.emailAddress).toBe('agg@example.com');
    expect(body.events).toEqual([
      { event: 'Viewed', count: 3, createdAt: 1000, updatedAt: 9000 },
      { event: 'Paid', count: 2, createdAt: 2000, updatedAt: 3000 },
    ]);
  });

  it('defaults an event timestamp to when the request was received', async () => {
    const before = Date.now();
    await post({ userId: 'no-ts', events: [{ event: 'Opened' }] }).expect(202);
    const after = Date.now();
    await app.running.caughtUp();
    const [event] = (await get('no-ts').expect(200)).body.events;
    expect(event.createdAt).toBeGreaterThanOrEqual(before);
    expect(event.createdAt).toBeLessThanOrEqual(after);
  });

  it('counts every one of many concurrent POSTs for the same visitor', async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => post({ userId: 'busy', events: [{ event: 'Tick', timestamp: i }] })),
    );
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 202));
    await app.running.caughtUp();
    expect((await get('busy').expect(200)).body.events).toEqual([{ event: 'Tick', count: 200, createdAt: 0, updatedAt: 199 }]);
  });

  it('keeps environments apart: a visitor of one key is invisible to another', async () => {
    await post({ userId: 'shared-id', attributes: { env: 'development' } }, dev).expect(202);
    await post({ userId: 'dev-only' }, dev).expect(202);
    await post({ userId: 'shared-id', attributes: { env: 'production' } }, prod).expect(202);
    await app.running.caughtUp();
    await get('dev-only', prod).expect(404);
    const inDev = (await get('shared-id', dev).expect(200)).body;
    const inProd = (await get('shared-id', prod).expect(200)).body;
    expect(inDev.attributes).toEqual({ env: 'development' });
    expect(inProd.attributes).toEqual({ env: 'production' });
    expect(inDev.id).not.toBe(inProd.id);
  });

  it('round-trips odd userIds and attribute names with . and $', async () => {
    const ids = ['a/b', 'with space', '100%', '#hash', 'q?x=1&y', 'ü🙂中文', 'a-b-c', '..', '../../etc/passwd', '%2F', 'x'.repeat(200) + '🙂'.repeat(150)];
    const attributes = { 'a.b': 1, $set: 'dollar', 'x.$y': true, plain: 'p' };
    for (const userId of ids) await post({ userId, attributes: { ...attributes, userId } }).expect(202);
    await app.running.caughtUp();
    for (const userId of ids) {
      const body = (await get(userId).expect(200)).body;
      expect(body.attributes).toEqual({ ...attributes, userId });
      expect(Object.keys(body.attributes)).toEqual(['a.b', '$set', 'x.$y', 'plain', 'userId']);
    }
    await get('a').expect(404);
  });

  it('gives the same id for the same visitor every time', async () => {
    await post({ userId: 'stable' }).expect(202);
    await app.running.caughtUp();
    const first = (await get('stable')).body.id;
    await post({ userId: 'stable', attributes: { more: true } }).expect(202);
    await app.running.caughtUp();
    expect((await get('stable')).body.id).toBe(first);
  });

  it('keeps every character of a UTF-8 body, U+FFFD included, whatever charset is declared', async () => {
    const name = 'café \u{1F600} \uFFFD';
    for (const [userId, type] of [
      ['utf8-a', 'application/json'],
      ['utf8-b', 'application/json; charset=UTF-8'],
      ['utf8-c', 'application/json;charset="utf8"'],
      // RFC 8259: a charset parameter has no effect on JSON, which is UTF-8.
      ['utf8-d', 'application/json; charset=us-ascii'],
      ['utf8-e', 'application/json; charset=ISO-8859-1'],
    ]) {
      const res = await postBytes(type, Buffer.from(JSON.stringify({ userId, attributes: { name } })));
      expect(res.status).toBe(202);
    }
    await app.running.caughtUp();
    for (const userId of ['utf8-a', 'utf8-b', 'utf8-c', 'utf8-d', 'utf8-e']) expect((await get(userId)).body.attributes.name).toBe(name);
  });

  it('takes a body whose Content-Encoding is identity, as if none were named', async () => {
    const res = await postBytes('application/json', Buffer.from('{"userId":"identity"}')).set('Content-Encoding', 'Identity');
    expect(res.status).toBe(202);
  });

  describe('rejections change nothing', () => {
    let before: Awaited<ReturnType<typeof head>>;
    beforeEach(async () => {
      before = await head();
    });
    afterEach(async () => {
      expect(await head()).toEqual(before);
    });

    it('400 names every offending field in Nest shape', async () => {
      const res = await post({ userId: '', events: [{ event: 'ok' }, { event: 5, timestamp: -1 }], attributes: { f: 1.5 }, emailAddress: 'x', extra: 1 }).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(res.body)).toEqual(['statusCode', 'error', 'message']);
      expect(res.body.statusCode).toBe(400);
      expect(res.body.error).toBe('Bad Request');
      expect(res.body.message).toEqual(
        expect.arrayContaining([
          'property extra should not exist',
          'userId should not be empty',
          'events.1.event must be a string',
          'events.1.timestamp must not be less than 0',
          'attributes.f must be a string, an integer or a boolean',
          'emailAddress must be an email',
        ]),
      );
    });

    it('400 for malformed JSON, an empty body and a body that is not an object, its message a list as for every 400', async () => {
      for (const raw of ['{"userId":', '', '[]', '"u"', 'null']) {
        const res = await app.http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send(raw);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [expect.any(String)] });
      }
    });

    it('400 for an events array far over its limit, at once, not a 500', async () => {
      // About 800 KB, under the body limit. Its items were once checked one by one: a 500
      // (the stack overflowed with their messages) after seconds of a blocked event loop.
      const res = await post({ userId: 'many-events', events: new Array(400_000).fill(0) });
      expect(res.status).toBe(400);
      expect(res.body.message).toEqual(['events must contain no more than 1000 elements, got 400000']);
    });

    it('413 for a body over 1 MiB', async () => {
      const res = await post({ userId: 'big', attributes: { a: 'x'.repeat(1024 * 1024) } });
      expect(res.status).toBe(413);
      expect(res.body).toEqual(expect.objectContaining({ statusCode: 413, error: 'Payload Too Large' }));
    });

    it('415 for a content type other than JSON', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        const res = await app.http.post('/v2/users').set(dev).set('Content-Type', type).send('userId=u');
        expect(res.status).toBe(415);
        expect(res.body).toEqual(expect.objectContaining({ statusCode: 415, error: 'Unsupported Media Type' }));
      }
    });

    it('415 for a compressed body, or any Content-Encoding but identity, rather than reading its bytes as JSON', async () => {
      const json = JSON.stringify({ userId: 'encoded' });
      for (const [coding, bytes] of [
        ['gzip', gzipSync(json)],
        ['gzip', Buffer.from(json)], // labelled compressed, sent plain: still not taken
        ['br', Buffer.from(json)],
        ['deflate, gzip', Buffer.from(json)],
      ] as const) {
        const res = await postBytes('application/json', bytes).set('Content-Encoding', coding);
        expect(res.status).toBe(415);
        expect(res.body).toEqual({
          statusCode: 415,
          error: 'Unsupported Media Type',
          message: `Content-Encoding ${JSON.stringify(coding)} is not supported: send the JSON body uncompressed`,
        });
      }
    });

    it('400 for a body that is not valid UTF-8, whatever charset it declares', async () => {
      const latin1 = Buffer.from('{"userId":"charset","attributes":{"name":"caf\xe9"}}', 'latin1');
      for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json; charset=ISO-8859-1']) {
        const res = await postBytes(type, latin1);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          statusCode: 400,
          error: 'Bad Request',
          message: ['The body is not valid UTF-8: JSON is read as UTF-8, whatever charset the Content-Type names'],
        });
      }
    });

    it('401 for a missing, unknown or malformed key, before the body is read', async () => {
      for (const headers of [{}, { Authorization: 'API-Key wrong' }, { Authorization: `Bearer ${DEV_KEY}` }, { Authorization: DEV_KEY }]) {
        const res = await app.http.post('/v2/users').set(headers).set('Content-Type', 'application/json').send('{not json');
        expect(res.status).toBe(401);
        expect(res.body).toEqual(expect.objectContaining({ statusCode: 401, error: 'Unauthorized' }));
        expect(JSON.stringify(res.body)).not.toContain(DEV_KEY);
        await app.http.get('/v2/users/agg').set(headers).expect(401);
      }
    });
  });

  it('takes a path with a trailing slash as the same path', async () => {
    await post({ userId: 'slash' }).expect(202);
    await app.running.caughtUp();
    const plain = await app.http.get('/v2/users/slash').set(dev).expect(200);
    const slashed = await app.http.get('/v2/users/slash/').set(dev).expect(200);
    expect(slashed.text).toBe(plain.text);
    await app.http.post('/v2/users/').set(dev).set('Content-Type', 'application/json').send('{"userId":"slash"}').expect(202);
  });

  it('answers the same with the userId in the query string, where the seed lists it among the parameters', async () => {
    const userId = 'in query a/b+c&d=ü';
    const write = await post({ userId, attributes: { plan: 'enterprise' } }).expect(202);
    const byPath = await get(userId).set('X-Consistency-Token', write.headers['x-consistency-token']).expect(200);
    const byQuery = await app.http.get(`/v2/users?userId=${encodeURIComponent(userId)}`).set(dev).expect(200);
    expect(byQuery.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(byQuery.text).toBe(byPath.text);
    // As a form encodes it (a space as +), and with a trailing slash.
    expect((await app.http.get(`/v2/users/?${new URLSearchParams({ userId })}`).set(dev).expect(200)).text).toBe(byPath.text);
    const unknown = await app.http.get('/v2/users?userId=nobody-in-query').set(dev).expect(404);
    expect(unknown.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(unknown.text).toBe('Not Found');
    await app.http.get(`/v2/users?userId=${encodeURIComponent(userId)}`).expect(401);
    await app.http.get(`/v2/users?userId=${encodeURIComponent(userId)}`).set(prod).expect(404);

    const refused = async (query: string) => (await app.http.get(`/v2/users${query}`).set(dev).expect(400)).body.message;
    expect(await refused('')).toEqual(['userId is required: GET /v2/users/:userId or /v2/users?userId=']);
    expect(await refused('?userId=')).toEqual(['userId must not be empty']);
    expect(await refused('?userId=a&userId=b')).toEqual(['userId must be given once']);
    expect(await refused('?userId=agg&plan=x')).toEqual(['query parameter plan is not supported']);
    expect(await refused('?userId=%FF')).toEqual(['the query string is not valid percent-encoded UTF-8: encode each value with encodeURIComponent']);
  });

  it('accepts the scheme name in any case', async () => {
    await app.http.get('/v2/users/agg').set('Authorization', `api-key ${DEV_KEY}`).expect(200);
  });
});

describe('read-your-writes with X-Consistency-Token', () => {
  const data = tempDataDir();
  let running: RunningApp;
  afterAll(async () => {
    await running?.close();
    data.remove();
  });

  it('never answers 404 to a GET that sends the token of its own write', async () => {
    running = await startApp(data.dir);
    const http = request(running.url);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const userId = `ryw-${i}`;
      const post = await http
        .post('/v2/users')
        .set(dev)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ userId, events: [{ event: 'Wrote', timestamp: i }] }));
      expect(post.status).toBe(202);
      const token = post.headers['x-consistency-token'];
      expect(typeof token).toBe('string');
      const res = await http.get(`/v2/users/${userId}`).set(dev).set('X-Consistency-Token', token);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 200) expect(res.body.events).toEqual([{ event: 'Wrote', count: 1, createdAt: i, updatedAt: i }]);
    }
    expect([...statuses]).toEqual([[200, 1000]]);
  });

  it('answers 503 with Retry-After when the projection does not get there in time, and 400 for a foreign token', async () => {
    const http = request(running.url);
    const projector = running.app.get(ProjectionRunner);
    await projector.stop();
    try {
      const post = await http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send('{"userId":"ryw-late"}').expect(202);
      const late = await http.get('/v2/users/ryw-late').set(dev).set('X-Consistency-Token', post.headers['x-consistency-token']);
      expect(late.status).toBe(503);
      expect(late.headers['retry-after']).toBe('1');
      expect(late.body).toEqual(expect.objectContaining({ statusCode: 503, error: 'Service Unavailable' }));
    } finally {
      projector.start();
    }
    // Past the end of the log: not from this service, and no retry would ever see it through.
    const ahead = await http.get('/v2/users/ryw-1').set(dev).set('X-Consistency-Token', 'p999999999999');
    expect(ahead.status).toBe(400);
    expect(ahead.body.message).toEqual(["x-consistency-token is past the end of this service's event log: it was not issued here"]);
    const junk = await http.get('/v2/users/ryw-1').set(dev).set('X-Consistency-Token', 'not-a-token');
    expect(junk.status).toBe(400);
    expect(junk.body.message).toEqual(['x-consistency-token must be a token from the header of a 202 response']);
  });
});

describe('read-your-writes when the projector runs in another process', () => {
  const data = tempDataDir();
  const apps: RunningApp[] = [];
  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    data.remove();
  });

  it('waits on the shared checkpoint of the read model', async () => {
    const api = await startApp(data.dir, { projectorEnabled: false });
    apps.push(api);
    const http = request(api.url);
    const post = await http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send('{"userId":"elsewhere"}');
    expect(post.status).toBe(202);
    // No projector yet: the token cannot be honoured in time.
    await http.get('/v2/users/elsewhere').set(dev).expect(404);
    const projectorProcess = await startApp(data.dir, { projectorEnabled: true });
    apps.push(projectorProcess);
    const res = await http.get('/v2/users/elsewhere').set(dev).set('X-Consistency-Token', post.headers['x-consistency-token']);
    expect(res.status).toBe(200);
    expect(res.body.attributes).toEqual({});
  });
});

describe('Idempotency-Key', () => {
  const app = useApp();
  const post = (body: unknown, key?: string) => {
    const req = app.http.post('/v2/users').set(dev).set('Content-Type', 'application/json');
    if (key !== undefined) req.set('Idempotency-Key', key);
    return req.send(JSON.stringify(body));
  };

  it('stores a retried request once and answers it as the first time', async () => {
    const body = { userId: 'retry', events: [{ event: 'Paid', timestamp: 5 }, { event: 'Paid', timestamp: 6 }] };
    const first = await post(body, 'order-42').expect(202);
    const retries = await Promise.all([post(body, 'order-42'), post(body, 'order-42'), post(body, 'order-42')]);
    for (const retry of retries) {
      expect(retry.status).toBe(202);
      expect(retry.headers['x-consistency-token']).toBe(first.headers['x-consistency-token']);
    }
    await post(body, 'order-43').expect(202);
    await post(body).expect(202);
    await app.running.caughtUp();
    expect((await app.http.get('/v2/users/retry').set(dev)).body.events).toEqual([{ event: 'Paid', count: 6, createdAt: 5, updatedAt: 6 }]);
  });

  it('takes a retry whose attributes come in another order as the same request', async () => {
    const first = await post({ userId: 'reordered', attributes: { b: 2, a: 1, '10': 'x', z: true } }, 'order-44').expect(202);
    const retry = await post({ attributes: { z: true, a: 1, '10': 'x', b: 2 }, userId: 'reordered' }, 'order-44').expect(202);
    expect(retry.headers['x-consistency-token']).toBe(first.headers['x-consistency-token']);
    await post({ userId: 'reordered', attributes: { b: 2, a: 1, '10': 'x', z: false } }, 'order-44').expect(409);
  });

  it('still answers a retry of a request stored when attributes were digested in the order sent', async () => {
    // As an earlier version stored it: the digest of the attributes in the order they came.
    const body = Object.assign(new UpsertUserDto(), { userId: 'digested-before', attributes: { b: 2, a: 1 } });
    const command = new UpsertUserCommand('development', body, Date.now(), 'order-45');
    const store = app.running.app.get<EventStore>(EVENT_STORE);
    const ids = [0].map((i) => idempotentEventId('development', 'digested-before', 'order-45', i));
    const stored = await store.append(visitorStream({ environment: 'development', userId: 'digested-before' }), upsertEvents(command, () => ids.shift()!, 'as-sent'), 'any');
    expect(requestDigest(command, 'as-sent')).not.toBe(requestDigest(command));
    const head = await store.headPosition();
    const retry = await post({ userId: 'digested-before', attributes: { b: 2, a: 1 } }, 'order-45').expect(202);
    expect(retry.headers['x-consistency-token']).toBe(consistencyToken(stored.position));
    expect(await store.headPosition()).toEqual(head);
    await post({ userId: 'digested-before', attributes: { b: 2, a: 3 } }, 'order-45').expect(409);
  });

  it('keeps the same key of different visitors apart', async () => {
    await post({ userId: 'k-a', events: [{ event: 'E' }] }, 'shared').expect(202);
    await post({ userId: 'k-b', events: [{ event: 'E' }] }, 'shared').expect(202);
    await app.running.caughtUp();
    expect((await app.http.get('/v2/users/k-a').set(dev)).body.events[0].count).toBe(1);
    expect((await app.http.get('/v2/users/k-b').set(dev)).body.events[0].count).toBe(1);
  });

  it('answers 409 for a key reused with a different request, 400 for a malformed key, appending nothing', async () => {
    await post({ userId: 'k-c', events: [{ event: 'E' }] }, 'once').expect(202);
    const head = await app.running.app.get<EventStore>(EVENT_STORE).headPosition();
    for (const other of [
      { userId: 'k-c', events: [{ event: 'E' }, { event: 'F' }] },
      { userId: 'k-c', events: [{ event: 'F' }] },
      { userId: 'k-c', events: [{ event: 'E', timestamp: 1 }] },
      { userId: 'k-c', attributes: { plan: 'x' }, events: [{ event: 'E' }] },
      { userId: 'k-c' },
    ]) {
      const conflict = await post(other, 'once');
      expect(conflict.status).toBe(409);
      expect(conflict.body).toEqual({ statusCode: 409, error: 'Conflict', message: 'This Idempotency-Key was used before for a different request' });
    }
    for (const key of ['', 'x'.repeat(256), 'with space', 'ü']) {
      const res = await app.http.post('/v2/users').set(dev).set('Content-Type', 'application/json').set('Idempotency-Key', key).send('{"userId":"k-c"}');
      expect(res.status).toBe(400);
    }
    expect(await app.running.app.get<EventStore>(EVENT_STORE).headPosition()).toEqual(head);
  });
});
