import type { FastifyRequest } from 'fastify';

/** How logs and metrics name bytes that never became a request. */
export const MALFORMED_REQUEST = { route: '(malformed request)', method: '(unknown)' } as const;

/** The route pattern a request matched (`/v2/users/:userId`), never its URL: how logs and metrics name it. */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? '(no route)';
}
