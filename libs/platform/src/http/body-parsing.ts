import type { FastifyInstance } from 'fastify';

/**
 * JSON is the only body the API takes: any other content type is a 415.
 * `__proto__` and `constructor` keys are kept as plain own properties
 * (JSON.parse never touches prototypes); the DTO rules decide about them, so
 * an attribute named `__proto__` is data like any other.
 */
export function registerJsonOnly(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  const parse = fastify.getDefaultJsonParser('ignore', 'ignore');
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, parse);
}
