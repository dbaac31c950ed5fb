import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { EVENT_STORE, EventStore } from '@visitorbase/event-store';
import { DEV_KEY, PROD_KEY, RunningApp, startApp, tempDataDir } from '../e2e/support';

const dev = { Authorization: `API-Key ${DEV_KEY}` };
const prod = { Authorization: `API-Key ${PROD_KEY}` };

/** Every route the application's controllers declare, as `METHOD /path`. */
function declaredRoutes(app: NestFastifyApplication): string[] {
  const routes: string[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!type) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, type) ?? '');
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = (type.prototype as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler);
        if (path === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const parts = [base, String(path)].map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== '');
        routes.push(`${method} /${parts.join('/')}`);
      }
    }
  }
  return routes.sort();
}

function expectSecurityHeaders(res: request.Response, what: string): void {
  const headers = res.headers;
  const summary = `${what} (${res.status})`;
  expect({ summary, value: headers['x-content-type-options'] }).toEqual({ summary, value: 'nosniff' });
  expect({ summary, value: headers['x-frame-options'] }).toEqual({ summary, value: 'DENY' });
  expect({ summary, value: headers['cache-control'] }).toEqual({ summary, value: 'no-store' });
  expect({ summary, value: headers['referrer-policy'] }).toEqual({ summary, value: 'no-referrer' });
  expect({ summary, value: headers['content-security-policy'] }).toEqual({ summary, value: "default-src 'none'; frame-ancestors 'none'" });
  expect({ summary, value: headers['x-powered-by'] }).toEqual({ summary, value: undefined });
}

describe('HTTP security', () => {
  const data = tempDataDir();
  let running: RunningApp;
  let http: ReturnType<typeof request>;
  const store = () => running.app.get<EventStore>(EVENT_STORE);

  beforeAll(async () => {
    running = await startApp(data.dir);
    http = request(running.url);
  });
  afterAll(async () => {
    await running?.close();
    data.remove();
  });

  const post = (body: unknown, headers: Record<string, string>) =>
    http.post('/v2/users').set(headers).set('Content-Type', 'application/json').send(JSON.stringify(body));

  it('sends the security headers on every kind of answer, errors and routing failures included', async () => {
    const answers: Array<[string, request.Test]> = [
      ['202', post({ userId: 'headers', emailAddress: 'h@example.com' }, dev)],
      ['400 invalid body', post({ userId: 5 }, dev)],
      ['400 malformed JSON', http.post('/v2/users').set(dev).set('Content-Type', 'application/json').send('{')],
      ['401', http.get('/v2/users/headers')],
      ['413', post({ userId: 'big', attributes: { a: 'x'.repeat(1024 * 1024) } }, dev)],
      ['415', http.post('/v2/users').set(dev).set('Content-Type', 'text/plain').send('x')],
      ['404 visitor', http.get('/v2/users/nobody').set(dev)],
      ['404 route', http.get('/nowhere')],
      ['400 bad percent-encoding', http.get('/v2/users/%ZZ').set(dev)],
      ['200 events', http.get('/v2/events?limit=1').set(dev)],
    ];
    for (const [what, pending] of answers) expectSecurityHeaders(await pending, what);
    // Over a socket a path this long is refused by Node's parser (431) before it is a request at all.
    const long = await running.app.inject({ method: 'GET', url: `/v2/users/${'a'.repeat(20_000)}`, headers: dev });
    expect(long.statusCode).toBe(414);
    expectSecurityHeaders({ status: long.statusCode, headers: long.headers } as unknown as request.Response, '414 path segment');
    await running.caughtUp();
    expectSecurityHeaders(await http.get('/v2/users/headers').set(dev).expect(200), '200 profile');
  });

  it('answers routing failures in the API error shape without echoing the path', async () => {
    const bad = await http.get('/v2/users/%C0%AF%ZZ').set(dev).expect(400);
    expect(bad.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: ['The path is not valid percent-encoded UTF-8: encode a userId with encodeURIComponent'],
    });
    const long = await running.app.inject({ method: 'GET', url: `/v2/users/${'b'.repeat(20_000)}`, headers: dev });
    expect(long.statusCode).toBe(414);
    expect(JSON.parse(long.body)).toEqual({ statusCode: 414, error: 'URI Too Long', message: 'A path segment is too long: a userId has at most 512 characters' });
    expect(long.body.length).toBeLessThan(200);
  });

  describe('environment isolation', () => {
    const devOnly = 'iso-dev-only';
    const shared = 'iso-shared';
    const devEmail = 'dev-secret@example.com';
    let devToken: string;

    beforeAll(async () => {
      const res = await post({ userId: devOnly, emailAddress: devEmail, attributes: { owner: 'development' } }, dev).expect(202);
      devToken = res.headers['x-consistency-token'];
      await post({ userId: shared, attributes: { owner: 'development' } }, dev).expect(202);
      await post({ userId: shared, attributes: { owner: 'production' } }, prod).expect(202);
      await running.caughtUp();
    });

    /** One check per route under /v2: what a key of another environment must not see or change. */
    const checks: Record<string, () => Promise<void>> = {
      'POST /v2/users': async () => {
        // A write lands in the writer's environment only.
        const streams = new Set<string>();
        for await (const event of store().readAll()) streams.add(event.stream);
        expect([...streams].filter((s) => s.includes(devOnly))).toEqual([`visitor-development-${devOnly}`]);
        expect(streams).toContain(`visitor-production-${shared}`);
        expect(streams).toContain(`visitor-development-${shared}`);
      },
      'GET /v2/users/:userId': async () => {
        await http.get(`/v2/users/${devOnly}`).set(prod).expect(404);
        expect((await http.get(`/v2/users/${shared}`).set(prod).expect(200)).body.attributes).toEqual({ owner: 'production' });
        expect((await http.get(`/v2/users/${shared}`).set(dev).expect(200)).body.attributes).toEqual({ owner: 'development' });
        // A consistency token of another environment's write only waits; it opens nothing.
        expect(devToken).toBeDefined();
        await http.get(`/v2/users/${devOnly}`).set(prod).set('X-Consistency-Token', devToken).expect(404);
      },
      'GET /v2/users': async () => {
        await http.get(`/v2/users?userId=${devOnly}`).set(prod).expect(404);
        expect((await http.get(`/v2/users?userId=${shared}`).set(prod).expect(200)).body.attributes).toEqual({ owner: 'production' });
        expect((await http.get(`/v2/users?userId=${shared}`).set(dev).expect(200)).body.attributes).toEqual({ owner: 'development' });
        await http.get(`/v2/users?userId=${devOnly}`).set(prod).set('X-Consistency-Token', devToken).expect(404);
      },
      'GET /v2/events': async () => {
        for (const query of ['', `?userId=${devOnly}`, '?type=UserUpserted', '?limit=1000']) {
          const res = await http.get(`/v2/events${query}`).set(prod).expect(200);
          expect(res.text).not.toContain(devOnly);
          expect(res.text).not.toContain(devEmail);
          const lines = res.text.trimEnd().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
          expect(lines.every((line) => line.environment === 'production')).toBe(true);
        }
      },
    };

    it('has an isolation check for every route under /v2', () => {
      const routes = declaredRoutes(running.app).filter((r) => r.split(' ')[1].startsWith('/v2/'));
      expect(routes.length).toBeGreaterThan(0);
      expect(routes.filter((route) => !(route in checks))).toEqual([]);
    });

    it.each(Object.keys(checks))('%s shows one environment nothing of another', async (route) => {
      await checks[route]();
    });

    it('answers 401 on every route under /v2 without a key, or with a malformed one', async () => {
      const routes = declaredRoutes(running.app).filter((r) => r.split(' ')[1].startsWith('/v2/'));
      for (const route of routes) {
        const [method, path] = route.split(' ');
        const url = path.replace(/:[^/]+/g, devOnly);
        for (const headers of [{}, { Authorization: 'API-Key nope' }, { Authorization: `Bearer ${DEV_KEY}` }]) {
          const res = await http[method.toLowerCase() as 'get' | 'post'](url).set(headers);
          expect({ route, status: res.status }).toEqual({ route, status: 401 });
          expect(res.text).not.toContain(devEmail);
        }
      }
    });

    it('reveals no visitor data on the routes outside /v2', async () => {
      const declared = declaredRoutes(running.app)
        .filter((r) => r.startsWith('GET ') && !r.includes('/v2/') && !r.includes(':'))
        .map((r) => r.slice(4));
      const wellKnown = ['/', '/health', '/metrics', '/docs', '/docs-json', '/openapi.json', '/v2', '/v2/'];
      for (const path of new Set([...declared, ...wellKnown])) {
        const res = await http.get(path);
        expect({ path, leaks: [devOnly, devEmail, DEV_KEY].filter((s) => res.text.includes(s)) }).toEqual({ path, leaks: [] });
      }
    });
  });
});

describe('per-key rate limit', () => {
  const data = tempDataDir();
  let running: RunningApp;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    // One token per 1000 s: the burst is all a key gets during the test, however slow the machine.
    running = await startApp(data.dir, { rateLimit: { perSecond: 0.001, burst: 3 } });
    http = request(running.url);
  });
  afterAll(async () => {
    await running?.close();
    data.remove();
  });

  it('answers 429 with Retry-After beyond the burst, appends nothing, and leaves other keys alone', async () => {
    const post = (headers: Record<string, string>) =>
      http.post('/v2/users').set(headers).set('Content-Type', 'application/json').send(JSON.stringify({ userId: 'limited' }));
    for (let i = 0; i < 3; i++) await post(dev).expect(202);
    const head = await running.app.get<EventStore>(EVENT_STORE).headPosition();

    const limited = await post(dev).expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: expect.stringContaining('Retry-After') });
    await http.get('/v2/users/limited').set(dev).expect(429);
    expect(await running.app.get<EventStore>(EVENT_STORE).headPosition()).toEqual(head);

    await post(prod).expect(202);
    // Without a valid key the answer stays 401: the limit is per key, not per caller.
    await http.get('/v2/users/limited').set({ Authorization: 'API-Key nope' }).expect(401);
  });
});
