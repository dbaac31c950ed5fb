import type { FastifyInstance } from 'fastify';
import { KeyRing } from '../api-keys';
import { errorBody } from './error-body';
import { ENVIRONMENT_PROPERTY, KEY_ID_PROPERTY, AuthenticatedRequest } from './environment.decorator';

const PROTECTED_PREFIX = '/v2/';

function unauthorized(message: string): string {
  return errorBody(401, message);
}

const MISSING = unauthorized('Missing API key: send the header "Authorization: API-Key <API_KEY>"');
const UNKNOWN = unauthorized('Unknown API key');

/** `http://host` in front of the path of an absolute-form request target (`GET http://host/v2/... HTTP/1.1`). */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i;

/**
 * The path the router matched the request on. `request.url` is the request
 * target as sent, which may be absolute (`http://host/v2/users/x`): the
 * router strips the scheme and host before matching, so the check must too,
 * or such a request would reach a /v2 handler unauthenticated.
 */
function routedPath(request: { url: string; routeOptions: { url?: string } }): string {
  return request.routeOptions.url ?? request.url.replace(ABSOLUTE_FORM, '');
}

/**
 * Authenticates every request under /v2 in `onRequest`, before the body is
 * read: a caller without a valid key gets 401 whatever it sends, and costs
 * no parsing.
 */
export function registerApiKeyAuth(fastify: FastifyInstance, keys: KeyRing): void {
  // Declared up front, so that setting them does not give each authenticated request
  // object a shape of its own for every function that later touches it.
  fastify.decorateRequest(ENVIRONMENT_PROPERTY, undefined);
  fastify.decorateRequest(KEY_ID_PROPERTY, undefined);
  fastify.addHook('onRequest', (request, reply, done) => {
    // The URL as sent is checked first (no route options to build): whatever it starts with,
    // the routed path decides too, so an absolute-form target is not let through.
    if (!request.url.startsWith(PROTECTED_PREFIX) && !routedPath(request).startsWith(PROTECTED_PREFIX)) return done();
    const header = request.headers.authorization;
    const key = keys.identify(header);
    if (key === undefined) {
      reply
        .code(401)
        .header('www-authenticate', 'API-Key')
        .type('application/json; charset=utf-8')
        .send(header === undefined ? MISSING : UNKNOWN);
      return;
    }
    (request as unknown as AuthenticatedRequest)[ENVIRONMENT_PROPERTY] = key.environment;
    (request as unknown as AuthenticatedRequest)[KEY_ID_PROPERTY] = key.keyId;
    done();
  });
}
