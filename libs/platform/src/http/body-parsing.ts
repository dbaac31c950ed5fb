import { isUtf8 } from 'node:buffer';
import { BadRequestException } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';

/**
 * JSON is the only body the API takes: any other content type is a 415.
 * `__proto__` and `constructor` keys are kept as plain own properties
 * (JSON.parse never touches prototypes); the DTO rules decide about them, so
 * an attribute named `__proto__` is data like any other.
 *
 * JSON is exchanged as UTF-8 (RFC 8259, section 8.1), and a charset parameter
 * has no effect on it (section 11): every body is read as UTF-8, and one that
 * is not valid UTF-8 is a 400. Decoded anyway, each bad byte would silently
 * become U+FFFD in what is stored.
 */
export function registerJsonOnly(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  const parse = fastify.getDefaultJsonParser('ignore', 'ignore');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body: Buffer, done) => {
    if (!isUtf8(body)) {
      done(new BadRequestException(NOT_UTF8), undefined);
      return;
    }
    parse(request, body.toString('utf8'), done);
  });
}

const NOT_UTF8 = 'The body is not valid UTF-8: JSON is read as UTF-8, whatever charset the Content-Type names';
