import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { MALFORMED_REQUEST, routeOf } from './route';

/** The Prometheus registry of one application (not the global one: tests run several apps in one process). */
export const METRICS_REGISTRY = Symbol('MetricsRegistry');

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'visitorbase_' });
  return registry;
}

const REQUESTS = 'visitorbase_http_requests_total';
const LATENCY = 'visitorbase_http_request_duration_seconds';
const ABORTED = 'visitorbase_http_requests_aborted_total';
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const noBuckets = () => LATENCY_BUCKETS.map(() => 0);

interface Series {
  readonly route: string;
  readonly method: string;
  readonly status: string;
  count: number;
  sum: number;
  /** Requests that took at most `LATENCY_BUCKETS[i]` and more than the bound before it. */
  readonly buckets: number[];
}

/** A value of a metric as the prom-client registry renders it. */
interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/**
 * Requests by route pattern, method and status, and their latency, counted
 * in plain numbers per series and turned into Prometheus samples only when
 * scraped. prom-client's own Counter and Histogram hash a labels object on
 * every call, labelled series included: about 5 µs of CPU per request in the
 * service. The series are bounded by the routes, the methods Node's HTTP
 * parser accepts and the status codes.
 */
export class HttpRequestMetrics {
  private readonly series = new Map<string, Series>();
  /** Requests the client gave up on before their answer: by `method route`. */
  private readonly aborted = new Map<string, { route: string; method: string; count: number }>();

  recordAbort(route: string, method: string): void {
    const key = `${method} ${route}`;
    const one = this.aborted.get(key);
    if (one) one.count += 1;
    else this.aborted.set(key, { route, method, count: 1 });
  }

  record(route: string, method: string, status: number, seconds: number): void {
    // As prom-client's observe() refuses it: a NaN would make the sum NaN for good.
    if (!Number.isFinite(seconds)) return;
    const key = `${status} ${method} ${route}`;
    let one = this.series.get(key);
    if (one === undefined) {
      one = { route, method, status: String(status), count: 0, sum: 0, buckets: noBuckets() };
      this.series.set(key, one);
    }
    one.count += 1;
    one.sum += seconds;
    // A plain loop: this runs on every request.
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= LATENCY_BUCKETS[i]) {
        one.buckets[i] += 1;
        break;
      }
    }
  }

  /** Registers both metrics, in the shape prom-client's registry renders. */
  register(registry: Registry): void {
    const metric = (name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]) => {
      const one = {
        name,
        help,
        type,
        aggregator: 'sum' as const,
        get: async () => ({ name: one.name, help, type, aggregator: one.aggregator, values: values() }),
        reset: () => {
          this.series.clear();
          this.aborted.clear();
        },
      };
      // `one.name`, not `name`: for OpenMetrics the registry renames a counter (without `_total`) before rendering it.
      return one;
    };
    registry.registerMetric(
      metric(REQUESTS, 'HTTP requests answered, by route pattern, method and status', 'counter', () => this.requestSamples()) as never,
    );
    registry.registerMetric(
      metric(LATENCY, 'Time from request to response, by route pattern and method', 'histogram', () => this.latencySamples()) as never,
    );
    registry.registerMetric(
      metric(ABORTED, 'HTTP requests the client closed before they were answered, by route pattern and method', 'counter', () =>
        [...this.aborted.values()].map(({ route, method, count }) => ({ labels: { route, method }, value: count })),
      ) as never,
    );
  }

  private requestSamples(): Sample[] {
    return [...this.series.values()].map(({ route, method, status, count }) => ({ labels: { route, method, status }, value: count }));
  }

  /** Latency is by route and method: the series of each status are added up. */
  private latencySamples(): Sample[] {
    const byRoute = new Map<string, { route: string; method: string; count: number; sum: number; buckets: number[] }>();
    for (const one of this.series.values()) {
      const key = `${one.method} ${one.route}`;
      let total = byRoute.get(key);
      if (total === undefined) {
        total = { route: one.route, method: one.method, count: 0, sum: 0, buckets: noBuckets() };
        byRoute.set(key, total);
      }
      total.count += one.count;
      total.sum += one.sum;
      one.buckets.forEach((n, i) => (total.buckets[i] += n));
    }
    const samples: Sample[] = [];
    for (const { route, method, count, sum, buckets } of byRoute.values()) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += buckets[i];
        samples.push({ metricName: `${LATENCY}_bucket`, labels: { le, route, method }, value: cumulative });
      });
      samples.push({ metricName: `${LATENCY}_bucket`, labels: { le: '+Inf', route, method }, value: count });
      samples.push({ metricName: `${LATENCY}_sum`, labels: { route, method }, value: sum });
      samples.push({ metricName: `${LATENCY}_count`, labels: { route, method }, value: count });
    }
    return samples;
  }
}

/** How requests answered outside the routes' hooks, or abandoned, are counted. */
export interface HttpRequestCounts {
  /** A request the client abandoned: it was not answered, so it is not in the requests' counts. */
  aborted(request: FastifyRequest): void;
  /** A request answered without its route's hooks (a routing failure, answered by Fastify). */
  answered(request: FastifyRequest, reply: FastifyReply): void;
  /** An answer that failed on the server's side after its status line was sent: counted as a 500. */
  failed(request: FastifyRequest, reply: FastifyReply): void;
  /** Bytes that were not an HTTP request, answered on the socket with `status`. */
  malformed(status: number): void;
}

/**
 * Requests by route pattern, method and status, and their latency, counted
 * from every route's `onResponse`. Returns how to count the rest
 * (`HttpRequestCounts`).
 */
export function registerHttpMetrics(fastify: FastifyInstance, registry: Registry): HttpRequestCounts {
  const metrics = new HttpRequestMetrics();
  metrics.register(registry);
  const answered = (request: FastifyRequest, reply: FastifyReply) =>
    metrics.record(routeOf(request), request.method, reply.statusCode, reply.elapsedTime / 1000);
  fastify.addHook('onResponse', (request, reply, done) => {
    answered(request, reply);
    done();
  });
  return {
    aborted: (request) => metrics.recordAbort(routeOf(request), request.method),
    answered,
    failed: (request, reply) => metrics.record(routeOf(request), request.method, 500, reply.elapsedTime / 1000),
    // No time: the request never began.
    malformed: (status) => metrics.record(MALFORMED_REQUEST.route, MALFORMED_REQUEST.method, status, 0),
  };
}

@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get()
  async metrics(@Res() reply: FastifyReply): Promise<void> {
    const body = await this.registry.metrics();
    await reply.code(200).type(this.registry.contentType).send(body);
  }
}
