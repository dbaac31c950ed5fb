import type { FastifyRequest } from 'fastify';

/** The route pattern a request matched (`/v2/users/:userId`), never its URL: how logs and metrics name it. */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? '(no route)';
}
