import { tempDataDir } from '../e2e/support';
import { ServiceProcess, startService } from '../crash/service';

const KEY = 'log-secret-key-5a1c9e';
const WRONG_KEY = 'log-wrong-key-77d0b2';
const USER_ID = 'log-secret/user-3f9a';
const EMAIL = 'log.secret.person@example.com';

/** Every form in which a secret could reach a log line: as sent, percent-encoded, JSON-escaped. */
function forms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])];
}

describe('logs at info level', () => {
  const data = tempDataDir();
  let service: ServiceProcess | undefined;
  afterAll(async () => {
    await service?.stop('SIGKILL');
    data.remove();
  });

  it('hold no API key, userId or email address, whatever the requests and their failures', async () => {
    service = await startService(data.dir, { API_KEYS: `development:${KEY}`, LOG_LEVEL: 'info' });
    const url = service.url;
    const auth = { authorization: `API-Key ${KEY}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const path = `/v2/users/${encodeURIComponent(USER_ID)}`;
    const calls: Array<[string, RequestInit]> = [
      ['/v2/users', { method: 'POST', headers: json, body: JSON.stringify({ userId: USER_ID, emailAddress: EMAIL, attributes: { email: EMAIL }, events: [{ event: 'Seen' }] }) }],
      ['/v2/users', { method: 'POST', headers: { ...json, 'idempotency-key': `${USER_ID}-once` }, body: JSON.stringify({ userId: USER_ID }) }],
      ['/v2/users', { method: 'POST', headers: json, body: JSON.stringify({ userId: USER_ID, emailAddress: `not an email ${EMAIL}` }) }],
      ['/v2/users', { method: 'POST', headers: json, body: `{"userId":"${USER_ID}",` }],
      ['/v2/users', { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: USER_ID }],
      ['/v2/users', { method: 'POST', headers: json, body: JSON.stringify({ userId: USER_ID, attributes: { big: 'x'.repeat(1024 * 1024) } }) }],
      ['/v2/users', { method: 'POST', headers: { authorization: `API-Key ${WRONG_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ userId: USER_ID }) }],
      [path, { headers: auth }],
      [path, { headers: { ...auth, 'x-consistency-token': 'p1' } }],
      [path, { headers: { ...auth, 'x-consistency-token': `${KEY}` } }],
      [path, { headers: { authorization: `Bearer ${KEY}` } }],
      [`/v2/users/${encodeURIComponent(USER_ID)}%ZZ`, { headers: auth }],
      [`/v2/events?userId=${encodeURIComponent(USER_ID)}`, { headers: auth }],
      [`/v2/events?userId=${encodeURIComponent(USER_ID)}&limit=${encodeURIComponent(EMAIL)}`, { headers: auth }],
      [`/nowhere/${encodeURIComponent(USER_ID)}?email=${encodeURIComponent(EMAIL)}`, { headers: auth }],
    ];
    const statuses: number[] = [];
    for (const [target, init] of calls) statuses.push((await fetch(`${url}${target}`, init)).status);
    // The requests did reach the service, and failed in every way they were meant to.
    expect(new Set(statuses)).toEqual(new Set([202, 400, 401, 404, 413, 415, 200]));
    expect(await service.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const output = service.output();
    // Logging is on: one line per request, at least.
    expect(output.split('\n').filter((line) => line.includes('"msg":"request"')).length).toBeGreaterThanOrEqual(calls.length);
    const found = [KEY, WRONG_KEY, USER_ID, EMAIL].flatMap(forms).filter((secret) => output.includes(secret));
    expect(found).toEqual([]);
  });
});
