import { Counter, Histogram, Registry } from 'prom-client';
import { HttpRequestMetrics } from './metrics';

/** A registry rendering in `contentType` (prom-client's types declare no constructor argument). */
const registryOf = (contentType: string): Registry => new (Registry as unknown as new (type: string) => Registry)(contentType);

describe('HttpRequestMetrics', () => {
  /** What prom-client's own Counter and Histogram render for the same requests. */
  function withPromClient(
    requests: Array<[string, string, number, number]>,
    contentType: string = Registry.PROMETHEUS_CONTENT_TYPE,
    aborts: Array<[string, string]> = [],
  ): Registry {
    const registry = registryOf(contentType);
    const count = new Counter({
      name: 'visitorbase_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'visitorbase_http_request_duration_seconds',
      help: 'Time from request to response, by route pattern and method',
      labelNames: ['route', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    const aborted = new Counter({
      name: 'visitorbase_http_requests_aborted_total',
      help: 'HTTP requests the client closed before they were answered, by route pattern and method',
      labelNames: ['route', 'method'],
      registers: [registry],
    });
    for (const [route, method, status, seconds] of requests) {
      count.inc({ route, method, status: String(status) });
      latency.observe({ route, method }, seconds);
    }
    for (const [route, method] of aborts) aborted.inc({ route, method });
    return registry;
  }

  it('renders exactly what prom-client renders for the same requests', async () => {
    // Durations that are sums of powers of two, so that the sums are exact whatever the order of additions.
    const durations = [0.0001220703125, 0.00048828125, 0.0009765625, 0.001953125, 0.00390625, 0.25, 0.5, 1, 2.5, 5, 8, 0.0078125];
    const routes = ['/v2/users', '/v2/users/:userId', '(no route)', '/health/"ready"'];
    const requests: Array<[string, string, number, number]> = [];
    for (let i = 0; i < 500; i++) {
      const route = routes[(i * 7) % routes.length];
      const method = i % 5 === 0 ? 'GET' : 'POST';
      const status = [202, 400, 200, 404, 503][(i * 3) % 5];
      requests.push([route, method, status, durations[(i * 11) % durations.length]]);
    }
    for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE] as string[]) {
      const ours = registryOf(contentType);
      const metrics = new HttpRequestMetrics();
      metrics.register(ours);
      for (const [route, method, status, seconds] of requests) metrics.record(route, method, status, seconds);

      const expected = await withPromClient(requests, contentType).metrics();
      expect(expected).toContain('visitorbase_http_request_duration_seconds_bucket{le="+Inf",route="/v2/users",method="POST"}');
      expect(await ours.metrics()).toBe(expected);
    }
  });

  it('ignores a duration that is not a number, as prom-client refuses it', async () => {
    const ours = new Registry();
    const metrics = new HttpRequestMetrics();
    metrics.register(ours);
    metrics.record('/v2/users', 'POST', 202, 0.25);
    metrics.record('/v2/users', 'POST', 202, Number.NaN);
    const text = await ours.metrics();
    expect(text).toContain('visitorbase_http_requests_total{route="/v2/users",method="POST",status="202"} 1');
    expect(text).toContain('visitorbase_http_request_duration_seconds_sum{route="/v2/users",method="POST"} 0.25');
  });

  it('counts a request that took exactly the bound of a bucket in that bucket, as prom-client does', async () => {
    const bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
    const requests = bounds.map((seconds, i): [string, string, number, number] => ['/v2/users', 'POST', 202, seconds * (i % 2 === 0 ? 1 : 1.0000001)]);
    const ours = new Registry();
    const metrics = new HttpRequestMetrics();
    metrics.register(ours);
    for (const [route, method, status, seconds] of requests) metrics.record(route, method, status, seconds);
    // Sums may differ in their last digits (additions in another order): compared apart.
    const split = (text: string) => {
      const lines = text.split('\n');
      return { rest: lines.filter((l) => !l.includes('_sum{')), sums: lines.filter((l) => l.includes('_sum{')).map((l) => Number(l.split(' ').pop())) };
    };
    const expected = split(await withPromClient(requests).metrics());
    const actual = split(await ours.metrics());
    expect(actual.rest).toEqual(expected.rest);
    expect(actual.sums).toHaveLength(1);
    expect(actual.sums[0]).toBeCloseTo(expected.sums[0], 9);
  });

  it('counts requests the client closed before their answer apart, as a prom-client counter would', async () => {
    const aborts: Array<[string, string]> = [['/v2/users/:userId', 'GET'], ['/v2/events', 'GET'], ['/v2/users/:userId', 'GET']];
    const ours = new Registry();
    const metrics = new HttpRequestMetrics();
    metrics.register(ours);
    metrics.record('/v2/users', 'POST', 202, 0.25);
    for (const [route, method] of aborts) metrics.recordAbort(route, method);
    const text = await ours.metrics();
    expect(text).toBe(await withPromClient([['/v2/users', 'POST', 202, 0.25]], Registry.PROMETHEUS_CONTENT_TYPE, aborts).metrics());
    expect(text).toContain('visitorbase_http_requests_aborted_total{route="/v2/users/:userId",method="GET"} 2');
  });

  it('renders nothing but the headers before the first request, as prom-client does', async () => {
    const ours = new Registry();
    new HttpRequestMetrics().register(ours);
    expect(await ours.metrics()).toBe(await withPromClient([]).metrics());
  });
});
