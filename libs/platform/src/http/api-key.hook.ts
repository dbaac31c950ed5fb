import type { FastifyInstance } from 'fastify';
import { KeyRing } from '../api-keys';
import { ENVIRONMENT_PROPERTY, KEY_ID_PROPERTY, AuthenticatedRequest } from './environment.decorator';

const PROTECTED_PREFIX = '/v2/';

function unauthorized(message: string): string {
  return JSON.stringify({ statusCode: 401, error: 'Unauthorized', message });
}

const MISSING = unauthorized('Missing API key: send the header "Authorization: API-Key <API_KEY>"');
const UNKNOWN = unauthorized('Unknown API key');

/**
 * Authenticates every request under /v2 in `onRequest`, before the body is
 * read: a caller without a valid key gets 401 whatever it sends, and costs
 * no parsing.
 */
export function registerApiKeyAuth(fastify: FastifyInstance, keys: KeyRing): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.url.startsWith(PROTECTED_PREFIX)) return done();
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
