import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './error-body';
import { setSecurityHeaders } from './security-headers.hook';

/**
 * Errors Fastify raises while routing, before Nest sees the request: a path
 * that is not valid percent-encoded UTF-8, or a path segment over the router's
 * limit. Answered in the API's `{statusCode, error, message}` shape, without
 * echoing the path back (it can be many kilobytes). Fastify sends these
 * before any route's hooks, so the security headers and the request id are
 * set here (the caller writes its log line and counts it).
 */
export function frameworkErrors(error: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply): void {
  const [status, message] =
    error.code === 'FST_ERR_BAD_URL'
      ? [400, 'The path is not valid percent-encoded UTF-8: encode a userId with encodeURIComponent']
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? [414, 'A path segment is too long: a userId has at most 512 characters']
        : [400, 'The request could not be routed'];
  reply.type('application/json; charset=utf-8');
  reply.header('x-request-id', request.id);
  setSecurityHeaders(reply);
  void reply
    .code(status)
    .send(errorBody(status, message));
}
