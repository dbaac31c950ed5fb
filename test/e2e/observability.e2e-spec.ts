import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { connect } from 'node:net';
import request from 'supertest';
import { EVENT_STORE, EventStore } from '@visitorbase/event-store';
import { ProjectionRunner } from '@visitorbase/users';
import { DEV_KEY, startApp, tempDataDir, useApp } from './support';

const dev = { Authorization: `API-Key ${DEV_KEY}` };

describe('health and metrics', () => {
  const app = useApp();

  it('answers liveness and readiness without a key', async () => {
    expect((await app.http.get('/health/live').expect(200)).body.status).toBe('ok');
    const ready = (await app.http.get('/health/ready').expect(200)).body;
    expect(ready.status).toBe('ok');
    expect(ready.details).toEqual({
      eventStore: { status: 'up' },
      readModel: { status: 'up' },
      projection: expect.objectContaining({ status: 'up', lagEvents: 0, version: 1 }),
    });
  });

  it('is not ready when the projector of this process is not running', async () => {
    const idle = await startApp(app.dataDir, { projectorEnabled: true });
    try {
      await idle.app.get((await import('@visitorbase/users')).ProjectionRunner).stop();
      const res = await request(idle.url).get('/health/ready').expect(503);
      expect(res.body.details.projection).toEqual(expect.objectContaining({ status: 'down', message: 'the projector is not running' }));
    } finally {
      await idle.close();
    }
  });

  it('exposes requests, latency, appended events and the projection in Prometheus format', async () => {
    // Sent twice under one Idempotency-Key: stored once, and its events counted once.
    for (let i = 0; i < 2; i++) {
      await app.http
        .post('/v2/users')
        .set(dev)
        .set('Content-Type', 'application/json')
        .set('Idempotency-Key', 'metrics-1')
        .send('{"userId":"m","events":[{"event":"a"},{"event":"b"}]}')
        .expect(202);
    }
    await app.http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send('{"userId":""}').expect(400);
    await app.running.caughtUp();
    await app.http.get('/v2/users/m').set(dev).expect(200);
    await app.http.get('/v2/users/m').set(dev).expect(200);
    const res = await app.http.get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const metrics = res.text;
    expect(metrics).toContain('visitorbase_http_requests_total{route="/v2/users",method="POST",status="202"} 2');
    expect(metrics).toContain('visitorbase_http_requests_total{route="/v2/users",method="POST",status="400"} 1');
    expect(metrics).toContain('visitorbase_http_requests_total{route="/v2/users/:userId",method="GET",status="200"} 2');
    expect(metrics).toContain('visitorbase_http_request_duration_seconds_count{route="/v2/users/:userId",method="GET"} 2');
    expect(metrics).toMatch(/visitorbase_http_request_duration_seconds_bucket\{le="0.005",route="\/v2\/users",method="POST"\} \d+/);
    expect(metrics).toContain('visitorbase_events_appended_total{type="UserUpserted"} 1');
    expect(metrics).toContain('visitorbase_events_appended_total{type="EventTracked"} 2');
    expect(metrics).toContain('visitorbase_projection_checkpoint 3');
    expect(metrics).toContain('visitorbase_event_store_head 3');
    expect(metrics).toContain('visitorbase_projection_lag_events 0');
    expect(metrics).toContain('visitorbase_projection_lag_milliseconds 0');
    expect(metrics).toContain('visitorbase_projection_status_up 1');
    expect(metrics).not.toContain('"m"');
  });

  it('still answers a scrape when the event store fails or does not answer, the projection figures unknown', async () => {
    const store = app.running.app.get<EventStore>(EVENT_STORE);
    const failing = jest.spyOn(store, 'headPosition').mockRejectedValue(new Error('the store is down'));
    try {
      const down = (await app.http.get('/metrics').expect(200)).text;
      expect(down).toContain('visitorbase_projection_status_up 0');
      // prom-client writes NaN as Nan, which Prometheus reads as NaN all the same.
      expect(down).toMatch(/^visitorbase_projection_checkpoint nan$/im);
      expect(down).toMatch(/visitorbase_http_requests_total\{route="\/v2\/users",method="POST",status="202"\} \d+/);
      // A read that never ends: the scrape answers once its wait is over, and the next one too.
      failing.mockReturnValue(new Promise(() => undefined));
      expect((await app.http.get('/metrics').expect(200)).text).toContain('visitorbase_projection_status_up 0');
      expect((await app.http.get('/metrics').expect(200)).text).toContain('visitorbase_projection_status_up 0');
    } finally {
      failing.mockRestore();
    }
    // The store answers again: so do the figures, though the read that never ended is still pending.
    expect((await app.http.get('/metrics').expect(200)).text).toContain('visitorbase_projection_status_up 1');
  }, 20_000);

  it('counts the requests a client closed before they were answered', async () => {
    const projector = app.running.app.get(ProjectionRunner);
    await projector.stop();
    try {
      // A GET that waits for a write the stopped projection will not reach, given up after 200 ms.
      const post = await app.http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send('{"userId":"abandoned"}').expect(202);
      const token = post.headers['x-consistency-token'];
      const abandoned = fetch(`${app.running.url}/v2/users/abandoned`, {
        headers: { ...dev, 'x-consistency-token': token },
        signal: AbortSignal.timeout(200),
      });
      await expect(abandoned).rejects.toThrow();
      expect(await scrapeUntil('visitorbase_http_requests_aborted_total{route="/v2/users/:userId",method="GET"} 1')).toBe(true);
    } finally {
      projector.start();
    }
    // A POST whose body was read, abandoned while it waits for the store: Fastify's own
    // onRequestAbort does not see this one.
    const store = app.running.app.get<EventStore>(EVENT_STORE);
    const append = store.append.bind(store);
    const slow = jest.spyOn(store, 'append').mockImplementation(async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return append(...args);
    });
    try {
      const gaveUp = fetch(`${app.running.url}/v2/users`, {
        method: 'POST',
        headers: { ...dev, 'content-type': 'application/json' },
        body: '{"userId":"impatient"}',
        signal: AbortSignal.timeout(200),
      });
      await expect(gaveUp).rejects.toThrow();
      expect(await scrapeUntil('visitorbase_http_requests_aborted_total{route="/v2/users",method="POST"} 1')).toBe(true);
    } finally {
      slow.mockRestore();
    }
  });

  /** Scrapes until the text holds `line`, for up to 5 s: the server sees a closed socket a little after the client. */
  async function scrapeUntil(line: string): Promise<boolean> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      if ((await app.http.get('/metrics').expect(200)).text.includes(line)) return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
});

describe('logs', () => {
  const data = tempDataDir();
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    data.remove();
  });

  it('are JSON lines with a request id, naming routes, never keys, userIds or email addresses', async () => {
    const main = join(__dirname, '../../dist/apps/api/src/main.js');
    child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH, DATA_DIR: data.dir, PORT: '0', API_KEYS: `development:${DEV_KEY}`, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', () => {
        const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
        if (match) resolve(match[1]);
      });
      child!.once('exit', () => reject(new Error(output)));
    });
    const http = request(url);
    const secretUser = 'visitor-7f3a9c';
    const email = 'someone.private@example.com';
    await http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send(JSON.stringify({ userId: secretUser, emailAddress: email })).expect(202);
    await http.get(`/v2/users/${secretUser}`).set(dev).set('X-Request-Id', 'trace-42');
    await http.get('/v2/users/x').set('Authorization', 'API-Key wrong-key-value').expect(401);
    await http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send(JSON.stringify({ userId: 5, emailAddress: 'bad@' })).expect(400);
    // Answered before any route's hooks: by the router, and on the socket for bytes that are not HTTP.
    const unrouted = await http.get('/v2/users/%C0%AF%ZZ').set(dev).set('X-Request-Id', 'trace-43').expect(400);
    expect(unrouted.headers['x-request-id']).toBe('trace-43');
    expect(await rawAnswer(url, 'GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    const scrape = (await http.get('/metrics').expect(200)).text;
    expect(scrape).toContain('visitorbase_http_requests_total{route="(no route)",method="GET",status="400"} 1');
    expect(scrape).toContain('visitorbase_http_requests_total{route="(malformed request)",method="(unknown)",status="400"} 1');
    await new Promise<void>((resolve) => {
      child!.once('exit', () => resolve());
      child!.kill('SIGTERM');
    });
    const lines = output.trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests.map((l) => [l.method, l.route, l.status])).toEqual([
      ['POST', '/v2/users', 202],
      ['GET', '/v2/users/:userId', expect.any(Number)],
      ['GET', '/v2/users/:userId', 401],
      ['POST', '/v2/users', 400],
      ['GET', '(no route)', 400],
      ['GET', '/metrics', 200],
    ]);
    expect(requests.every((l) => typeof l.reqId === 'string' && l.reqId.length > 0)).toBe(true);
    expect(requests[1].reqId).toBe('trace-42');
    expect(requests[4].reqId).toBe('trace-43');
    expect(lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'malformed request')).toEqual([
      expect.objectContaining({ route: '(malformed request)', status: 400, code: 'HPE_INVALID_HEADER_TOKEN' }),
    ]);
    for (const secret of [DEV_KEY, 'wrong-key-value', secretUser, email, 'bad@']) expect(output).not.toContain(secret);
  });
});

/** What the server answers to `bytes` sent on a connection of their own. */
function rawAnswer(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('OpenAPI', () => {
  const app = useApp();

  it('documents the v2 API as the seed does, with its examples, at /openapi.json and /docs', async () => {
    const http = app.http;
    const doc = (await http.get('/openapi.json').expect(200)).body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.ApiKey).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'Authorization' }));
    const post = doc.paths['/v2/users'].post;
    expect(post.summary).toBe('Create/Upsert user with attributes and events');
    expect(post.responses['202'].content['text/plain'].example).toBe('Accepted');
    expect(Object.keys(post.responses).sort()).toEqual(['202', '400', '401', '409', '413', '415', '429', '503']);
    expect(post.responses['429'].headers['Retry-After']).toBeDefined();
    const body = post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['userId']);
    // null counts as absent, and the schema says so: a client generated from it may send null.
    for (const field of ['events', 'attributes', 'emailAddress']) expect(body.properties[field].nullable).toBe(true);
    expect(body.properties.events.items.properties.timestamp.nullable).toBe(true);
    const get = doc.paths['/v2/users/{userId}'].get;
    expect(get.summary).toBe('Get events and attributes of a visitor');
    expect(get.responses['200'].content['application/json'].schema.example).toEqual({
      id: 'a926111b-fa62-49f7-8666-2c94ca8b18fc',
      createdAt: 1612739790947,
      attributes: { plan: 'enterprise', completed_flow: false },
      events: [{ event: 'Clicked Signup', count: 1, createdAt: 1612739790947, updatedAt: 1612739912314 }],
    });
    expect(get.responses['404'].content['text/plain'].example).toBe('Not Found');
    expect(Object.keys(get.responses).sort()).toEqual(['200', '400', '401', '404', '429', '503']);
    // The same GET with the userId in the query string, where the seed's table of parameters puts it.
    const byQuery = doc.paths['/v2/users'].get;
    expect(byQuery.summary).toBe(get.summary);
    expect(byQuery.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'userId', in: 'query', required: true })]));
    expect(byQuery.responses['200']).toEqual(get.responses['200']);
    expect(Object.keys(byQuery.responses).sort()).toEqual(['200', '400', '401', '404', '429', '503']);
    const events = doc.paths['/v2/events'].get;
    expect(Object.keys(events.responses).sort()).toEqual(['200', '400', '401', '429', '503']);
    expect(Object.keys(events.responses['200'].content)).toEqual(['application/x-ndjson']);
    // Its errors are JSON, as everywhere else.
    for (const status of ['400', '401', '429', '503']) expect(Object.keys(events.responses[status].content)).toEqual(['application/json']);
    // Liveness checks nothing that can be down; readiness can answer 503.
    expect(Object.keys(doc.paths['/health/live'].get.responses)).toEqual(['200']);
    expect(Object.keys(doc.paths['/health/ready'].get.responses).sort()).toEqual(['200', '503']);
    expect(events.parameters.find((p: { name: string }) => p.name === 'limit').schema).toEqual({ type: 'integer', minimum: 1, maximum: 999_999_999 });
    const page = await http.get('/docs').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('Swagger UI');
  });
});
