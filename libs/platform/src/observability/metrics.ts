import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus registry of one application (not the global one: tests run several apps in one process). */
export const METRICS_REGISTRY = Symbol('MetricsRegistry');

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'visitorbase_' });
  return registry;
}

/** Requests by route pattern, method and status, and their latency. */
export function registerHttpMetrics(fastify: FastifyInstance, registry: Registry): void {
  const requests = new Counter({
    name: 'visitorbase_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'visitorbase_http_request_duration_seconds',
    help: 'Time from request to response, by route pattern and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? '(no route)';
    requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    done();
  });
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
