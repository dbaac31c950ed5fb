import type { FastifyInstance, FastifyReply } from 'fastify';

/** The restrictive policy of a response that is data, never a page to render. */
const DATA_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Headers that keep a browser from reinterpreting, framing or caching what
 * the API answers. Answers hold visitor data, so nothing is cached unless a
 * route chose its own policy. An HTML page (such as API documentation) keeps
 * the freedom to load its own scripts and styles: the `default-src 'none'`
 * policy is for data only.
 */
export function setSecurityHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.removeHeader('x-powered-by');
  if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  const type = String(reply.getHeader('content-type') ?? '');
  if (!type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) {
    reply.header('content-security-policy', DATA_CSP);
  }
}

/** Adds the security headers to every response, errors and hooks' answers included. */
export function registerSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    setSecurityHeaders(reply);
    done(null, payload);
  });
}
