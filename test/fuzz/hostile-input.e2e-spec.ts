import { Agent, request as httpRequest, validateHeaderValue } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { EVENT_STORE, EventStore, Position } from '@visitorbase/event-store';
import { DATA_ANSWER_HEADERS } from '@visitorbase/platform/http/security-headers.hook';
import { TrackedEventDto, UpsertUserDto, visitorStream } from '@visitorbase/users';
import { DEV_KEY, PROD_KEY, RunningApp, startApp, tempDataDir } from '../e2e/support';
import { GeneratedRequest, anyRequest, oversizedRequest } from './arbitraries';

/** Requests per property run; they are sent together, so valid ones share a commit. */
const BATCH = 50;
/** 200 runs of 50: the 10 000 requests the suite promises. FUZZ_RUNS scales a longer hunt. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SOCKET_REQUESTS = 300;

const keys = { development: DEV_KEY, production: PROD_KEY };
const ENVIRONMENT_OF_KEY: Record<string, string> = { [DEV_KEY]: 'development', [PROD_KEY]: 'production' };

interface Outcome {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

function describeRequest(req: GeneratedRequest): string {
  const payload = req.payload === undefined ? '' : ` ${JSON.stringify(req.payload.slice(0, 300))}${req.payload.length > 300 ? '…' : ''}`;
  return `${req.what}: ${req.method} ${req.url.slice(0, 200)} ${JSON.stringify(req.headers)}${payload}`;
}

/** Throws, naming the request, unless the answer is what it must be and an error says what went wrong. */
function checkOutcome(req: GeneratedRequest, res: Outcome): void {
  const fail = (why: string) => {
    throw new Error(`${why}\n  request: ${describeRequest(req)}\n  answer: ${res.status} ${res.type} ${res.body.slice(0, 500)}`);
  };
  if (res.status >= 500) fail('server error');
  const expected = req.expected;
  if (typeof expected === 'object' && res.status !== expected.status) fail(`expected ${expected.status}`);
  if (expected === 'client-error' && (res.status < 400 || res.status >= 500)) fail('expected a 4xx');
  if (res.status >= 400) {
    const problem = readableProblem(res);
    if (problem) fail(problem);
  }
}

/** Why a 4xx answer would not help the person reading it, or undefined when it does. */
function readableProblem(res: Outcome): string | undefined {
  if (res.status === 404 && res.type.startsWith('text/plain')) return res.body === 'Not Found' ? undefined : 'a plain 404 other than the seed\'s "Not Found"';
  if (!res.type.startsWith('application/json')) return `error answered as ${res.type || 'no content type'}`;
  if (res.body.length > 64 * 1024) return `an error message of ${res.body.length} characters`;
  let body: { statusCode?: unknown; error?: unknown; message?: unknown };
  try {
    body = JSON.parse(res.body);
  } catch {
    return 'an error body that is not JSON';
  }
  if (body.statusCode !== res.status) return 'statusCode differs from the status';
  if (typeof body.error !== 'string' || body.error === '') return 'no error name';
  const message = body.message;
  if (res.status === 400 && !Array.isArray(message)) return 'a 400 whose message is not a list';
  const lines = Array.isArray(message) ? message : [message];
  if (lines.length === 0 || lines.some((line) => typeof line !== 'string' || line.trim() === '')) return 'an empty or non-text message';
  return undefined;
}

function isValidHeaderValue(value: string): boolean {
  try {
    validateHeaderValue('x', value);
    return true;
  } catch {
    return false;
  }
}

/** Events appended after `after`, counted per stream. */
async function appendedSince(store: EventStore, after: Position | undefined): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const event of store.readAll({ after })) counts.set(event.stream, (counts.get(event.stream) ?? 0) + 1);
  return counts;
}

/** What the accepted requests must have appended: one UserUpserted and one EventTracked per event, each. */
function expectedAppends(answered: ReadonlyArray<readonly [GeneratedRequest, Outcome]>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [req, res] of answered) {
    if (res.status !== 202) continue;
    const body = JSON.parse(req.payload!) as { userId: string; events?: unknown[] | null };
    const environment = ENVIRONMENT_OF_KEY[req.headers.authorization.replace(/^API-Key /, '')];
    const stream = visitorStream({ environment, userId: body.userId });
    counts.set(stream, (counts.get(stream) ?? 0) + 1 + (body.events?.length ?? 0));
  }
  return counts;
}

function sorted(counts: Map<string, number>): Array<[string, number]> {
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const PROTOTYPES: Record<string, object> = {
  Object: Object.prototype,
  Array: Array.prototype,
  Function: Function.prototype,
  String: String.prototype,
  Number: Number.prototype,
  Boolean: Boolean.prototype,
  UpsertUserDto: UpsertUserDto.prototype,
  TrackedEventDto: TrackedEventDto.prototype,
};

/** Every own member of the prototypes a hostile body could reach, with its current value. */
function prototypeSnapshot(): Map<string, unknown> {
  const members = new Map<string, unknown>();
  for (const [name, proto] of Object.entries(PROTOTYPES)) {
    members.set(`${name} has prototype`, Object.getPrototypeOf(proto));
    for (const key of Reflect.ownKeys(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
      members.set(`${name}.${String(key)}`, descriptor.value ?? descriptor.get);
    }
  }
  return members;
}

describe('hostile input', () => {
  const data = tempDataDir();
  let running: RunningApp;
  let store: EventStore;
  const prototypesBefore = prototypeSnapshot();
  const statuses = new Map<number, number>();
  const tally = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

  beforeAll(async () => {
    running = await startApp(data.dir);
    store = running.app.get<EventStore>(EVENT_STORE);
  });
  afterAll(async () => {
    await running?.close();
    data.remove();
  });

  it(`answers ${RUNS * BATCH} generated requests with 202 or a readable 4xx, never a 5xx, and appends only for a 202`, async () => {
    let sent = 0;
    const details = await fc.check(
      fc.asyncProperty(fc.array(anyRequest(keys), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const before = await store.headPosition();
        const answered = await Promise.all(
          batch.map(async (req) => {
            const res = await running.app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
            const outcome: Outcome = { status: res.statusCode, type: String(res.headers['content-type'] ?? ''), body: res.body };
            return [req, outcome] as const;
          }),
        );
        sent += batch.length;
        for (const [req, res] of answered) {
          tally(res.status);
          checkOutcome(req, res);
        }
        const appended = sorted(await appendedSince(store, before));
        const expected = sorted(expectedAppends(answered));
        if (JSON.stringify(appended) !== JSON.stringify(expected)) {
          throw new Error(`appended ${JSON.stringify(appended)}\nexpected ${JSON.stringify(expected)}`);
        }
      }),
      // The failure names the request; shrinking a batch of 50 would only take long.
      { numRuns: RUNS, endOnFailure: true, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) },
    );
    if (details.failed) {
      const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      throw new Error(`${cause}\n(replay: FUZZ_SEED=${details.seed} npx jest test/fuzz)`);
    }
    expect(sent).toBe(RUNS * BATCH);
    // Both sides of the property were exercised in earnest, not only one of them.
    expect(statuses.get(202)).toBeGreaterThan(sent / 10);
    expect(statuses.get(400)).toBeGreaterThan(sent / 10);
    for (const status of [401, 404, 415]) expect(statuses.get(status)).toBeGreaterThan(0);
    // A generous bound, for slow machines and for long hunts with FUZZ_RUNS.
  }, Math.max(120_000, RUNS * 1_000));

  it('answers a body over 1 MiB with 413 and appends nothing', async () => {
    const req = oversizedRequest(keys);
    const before = await store.headPosition();
    const res = await running.app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
    checkOutcome(req, { status: res.statusCode, type: String(res.headers['content-type'] ?? ''), body: res.body });
    expect(await store.headPosition()).toEqual(before);
  });

  it(`answers ${SOCKET_REQUESTS} generated requests over a real socket the same way`, async () => {
    const url = new URL(running.url);
    // Connections are reused, as real clients do: an answer that closes one must say so.
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    // A client refuses to send what is not a valid header value; raw sockets below send those.
    const sendable = anyRequest(keys).filter((req) => Object.values(req.headers).every((value) => isValidHeaderValue(value)));
    const batch = fc.sample(sendable, { numRuns: SOCKET_REQUESTS, seed: 20260101 });
    const before = await store.headPosition();
    try {
      const settled = await Promise.allSettled(
        batch.map(
          (req) =>
            new Promise<readonly [GeneratedRequest, Outcome]>((resolve, reject) => {
              const payload = req.payload === undefined ? undefined : Buffer.from(req.payload, 'utf8');
              const headers = { ...req.headers, ...(payload ? { 'content-length': String(payload.length) } : {}) };
              const call = httpRequest({ host: url.hostname, port: url.port, method: req.method, path: req.url, headers, agent }, (res) => {
                let body = '';
                res.setEncoding('utf8');
                res.on('data', (chunk: string) => (body += chunk));
                res.on('end', () => resolve([req, { status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body }]));
              });
              call.on('error', (error) => reject(new Error(`${describeRequest(req)}: ${error.message}`)));
              call.end(payload);
            }),
        ),
      );
      // Every request is settled before any verdict, so none is still appending during the next test.
      const answered = settled.map((result) => {
        if (result.status === 'rejected') throw result.reason;
        return result.value;
      });
      for (const [req, res] of answered) {
        tally(res.status);
        checkOutcome(req, res);
      }
      expect(sorted(await appendedSince(store, before))).toEqual(sorted(expectedAppends(answered)));
      expect(answered.filter(([, res]) => res.status === 202).length).toBeGreaterThan(0);
    } finally {
      agent.destroy();
    }
  });

  describe('over a raw socket, requests that are not well-formed HTTP', () => {
    const host = () => new URL(running.url);
    const post = (headers: string, body: string) =>
      `POST /v2/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: API-Key ${DEV_KEY}\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;
    const json = '{"userId":"raw-socket","events":[{"event":"e"}]}';

    /** Sends `bytes`, half-closes when asked, and collects every status line the server answers. */
    function exchange(bytes: string, options: { end?: boolean } = {}): Promise<{ statuses: number[]; text: string }> {
      return new Promise((resolve) => {
        const socket = connect(Number(host().port), host().hostname);
        let text = '';
        const done = () => {
          clearTimeout(timer);
          socket.destroy();
          resolve({ statuses: [...text.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1])), text });
        };
        // A server waiting for bytes that never come answers nothing; the client gives up.
        const timer = setTimeout(done, 3000);
        socket.setEncoding('latin1');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('close', done);
        socket.on('error', done);
        socket.write(bytes, 'latin1');
        if (options.end) socket.end();
      });
    }

    const cases: Array<{ name: string; bytes: string; end?: boolean; statuses: (s: number[]) => boolean; appends?: number }> = [
      { name: 'a 20 KB header', bytes: `GET /v2/users/x HTTP/1.1\r\nHost: x\r\nAuthorization: API-Key ${DEV_KEY}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, statuses: (s) => s[0] === 431 },
      { name: 'a 20 KB path', bytes: `GET /v2/users/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, statuses: (s) => s[0] === 431 },
      { name: '3000 headers', bytes: `GET /v2/users/x HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`, statuses: (s) => s[0] >= 400 && s[0] < 500 },
      { name: 'a NUL in a header value', bytes: `GET /v2/users/x HTTP/1.1\r\nHost: x\r\nAuthorization: API-Key ${DEV_KEY}\u0000\r\n\r\n`, statuses: (s) => s[0] === 400 },
      { name: 'a space in a header name', bytes: `GET /v2/users/x HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n`, statuses: (s) => s[0] === 400 },
      { name: 'a header folded over two lines', bytes: `GET /v2/users/x HTTP/1.1\r\nHost: x\r\nAuthorization: API-Key\r\n ${DEV_KEY}\r\n\r\n`, statuses: (s) => s[0] >= 400 && s[0] < 500 },
      { name: 'a request line that is not HTTP', bytes: 'HELLO THERE\r\n\r\n', statuses: (s) => s[0] === 400 },
      { name: 'binary junk', bytes: '\u0000\u00ff\u0010\u0013\r\n\r\n', statuses: (s) => s[0] === 400 },
      { name: 'both Content-Length and Transfer-Encoding', bytes: post(`Content-Length: ${json.length}\r\nTransfer-Encoding: chunked\r\n`, json), statuses: (s) => s[0] === 400 },
      { name: 'a Content-Length that is not a number', bytes: post('Content-Length: abc\r\n', json), statuses: (s) => s[0] === 400 },
      { name: 'two different Content-Lengths', bytes: post(`Content-Length: ${json.length}\r\nContent-Length: 3\r\n`, json), statuses: (s) => s[0] === 400 },
      { name: 'a chunk size that is not hex', bytes: post('Transfer-Encoding: chunked\r\n', `zz\r\n${json}\r\n0\r\n\r\n`), statuses: (s) => s[0] === 400 },
      {
        name: 'a Content-Length shorter than the body',
        bytes: post('Content-Length: 5\r\n', json),
        statuses: (s) => s.length >= 1 && s.every((x) => x === 400),
      },
      { name: 'a Content-Length longer than the body, then the client hangs up', bytes: post('Content-Length: 500\r\n', json), end: true, statuses: (s) => s.every((x) => x >= 400 && x < 500) },
      { name: 'headers that never end, then the client hangs up', bytes: `GET /v2/users/x HTTP/1.1\r\nHost: x\r\nX-A: b`, end: true, statuses: (s) => s.every((x) => x >= 400 && x < 500) },
      { name: 'an absolute URL without a key', bytes: 'GET http://evil.example/v2/users/raw-socket HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n', statuses: (s) => s[0] >= 400 && s[0] < 500 },
      { name: 'a chunked body, well-formed', bytes: post('Transfer-Encoding: chunked\r\n', `${json.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`), statuses: (s) => s[0] === 202, appends: 2 },
      { name: 'HTTP/1.0', bytes: `POST /v2/users HTTP/1.0\r\nAuthorization: API-Key ${DEV_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`, statuses: (s) => s[0] === 202, appends: 2 },
      { name: 'Expect: 100-continue', bytes: post(`Expect: 100-continue\r\nContent-Length: ${json.length}\r\n`, json), statuses: (s) => s.includes(202) && s.every((x) => x === 100 || x === 202), appends: 2 },
      {
        name: 'two Authorization headers (Node keeps the first)',
        bytes: post(`Authorization: API-Key ${PROD_KEY}\r\nContent-Length: ${json.length}\r\n`, json),
        statuses: (s) => s[0] === 202,
        appends: 2,
      },
      { name: 'a body on a GET', bytes: `GET /v2/users/raw-socket HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: API-Key ${DEV_KEY}\r\nContent-Length: 4\r\n\r\njunk`, statuses: (s) => s[0] === 200 || s[0] === 404 },
    ];

    it.each(cases.map((c) => [c.name, c] as const))('%s: a 4xx or nothing, never a 5xx; a 202 only for a sound request', async (_name, c) => {
      const before = await store.headPosition();
      const { statuses, text } = await exchange(c.bytes, { end: c.end });
      expect({ statuses, fits: c.statuses(statuses), text: text.slice(0, 300) }).toEqual({ statuses, fits: true, text: text.slice(0, 300) });
      if (statuses[0] >= 400) {
        // The answer says what was wrong, and that the connection is over, so no client sends on it again.
        const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
        expect(head).toMatch(/^connection: close$/im);
        const length = Number(/^content-length: (\d+)$/im.exec(head)?.[1]);
        // A 400 lists its problems, as every 400 of the API does.
        const message = statuses[0] === 400 ? [expect.any(String)] : expect.any(String);
        expect(JSON.parse(Buffer.from(body, 'latin1').subarray(0, length).toString('utf8'))).toEqual(expect.objectContaining({ statusCode: statuses[0], message }));
        // Written by hand or not, it carries the headers every answer has.
        const headers = head.split('\r\n').slice(1).map((line) => line.toLowerCase());
        for (const [name, value] of DATA_ANSWER_HEADERS) expect(headers).toContain(`${name}: ${value}`.toLowerCase());
      }
      const appended = await appendedSince(store, before);
      const total = [...appended.values()].reduce((a, b) => a + b, 0);
      expect(total).toBe(c.appends ?? 0);
      if (c.appends) expect([...appended.keys()]).toEqual([visitorStream({ environment: 'development', userId: 'raw-socket' })]);
    });

    it('still serves after all of them', async () => {
      const res = await fetch(`${running.url}/v2/users/raw-socket`, { headers: { authorization: `API-Key ${DEV_KEY}` } });
      expect([200, 404]).toContain(res.status);
    });
  });

  it('stores attribute names that are prototype members as data, and gives them back intact', async () => {
    const payload = '{"userId":"proto-names","attributes":{"__proto__":"p","constructor":"c","prototype":"x","toString":1,"hasOwnProperty":true}}';
    const res = await running.app.inject({ method: 'POST', url: '/v2/users', headers: { authorization: `API-Key ${DEV_KEY}`, 'content-type': 'application/json' }, payload });
    expect(res.statusCode).toBe(202);
    await running.caughtUp();
    const got = await running.app.inject({ method: 'GET', url: '/v2/users/proto-names', headers: { authorization: `API-Key ${DEV_KEY}` } });
    expect(got.statusCode).toBe(200);
    expect(got.body).toContain('"attributes":{"__proto__":"p","constructor":"c","prototype":"x","toString":1,"hasOwnProperty":true}');
  });

  it('leaves the projection able to fold everything that was accepted', async () => {
    // An accepted body the fold could not take would stop the projector short of the head.
    await expect(running.caughtUp()).resolves.toBeUndefined();
  });

  it('has polluted no prototype', () => {
    const after = prototypeSnapshot();
    const changed = [...new Set([...prototypesBefore.keys(), ...after.keys()])].filter((k) => prototypesBefore.get(k) !== after.get(k));
    expect(changed).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // The summary that RELIABILITY.md quotes.
    process.stdout.write(`hostile input: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}\n`);
  });
});
