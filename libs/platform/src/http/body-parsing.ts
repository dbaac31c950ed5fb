import { isUtf8 } from 'node:buffer';
import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
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
 *
 * Bodies are taken as sent: one with a Content-Encoding (gzip...) is a 415
 * (RFC 9110, section 15.5.16) rather than bytes read as if they were JSON.
 */
export function registerJsonOnly(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  const parse = fastify.getDefaultJsonParser('ignore', 'ignore');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body: Buffer, done) => {
    const coding = request.headers['content-encoding'];
    if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') {
      done(new UnsupportedMediaTypeException(notDecoded(coding)), undefined);
      return;
    }
    if (!isUtf8(body)) {
      done(new BadRequestException(NOT_UTF8), undefined);
      return;
    }
    parse(request, body.toString('utf8'), done);
  });
}

const NOT_UTF8 = 'The body is not valid UTF-8: JSON is read as UTF-8, whatever charset the Content-Type names';

function notDecoded(coding: string): string {
  const shown = coding.length > 40 ? `${coding.slice(0, 40)}…` : coding;
  return `Content-Encoding ${JSON.stringify(shown)} is not supported: send the JSON body uncompressed`;
}
