import { isUtf8 } from 'node:buffer';
import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';

/**
 * JSON is the only body the API takes: any other content type is a 415.
 * `__proto__` and `constructor` keys are kept as plain own properties
 * (JSON.parse never touches prototypes); the DTO rules decide about them, so
 * an attribute named `__proto__` is data like any other.
 *
 * JSON is exchanged as UTF-8 (RFC 8259, section 8.1). A body declared in
 * another charset is a 415, and a body that is not valid UTF-8 a 400: decoded
 * as UTF-8 anyway, each bad byte would silently become U+FFFD in what is stored.
 */
export function registerJsonOnly(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  const parse = fastify.getDefaultJsonParser('ignore', 'ignore');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body: Buffer, done) => {
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new UnsupportedMediaTypeException(`Unsupported charset "${charset}": send JSON as UTF-8, with "Content-Type: application/json"`), undefined);
      return;
    }
    if (!isUtf8(body)) {
      done(new BadRequestException('The body is not valid UTF-8: send JSON as UTF-8'), undefined);
      return;
    }
    parse(request, body.toString('utf8'), done);
  });
}

const PLAIN_JSON = 'application/json'.length;
const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;

/** The charset parameter of a content type, lowercased; undefined when there is none. */
export function charsetOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined || contentType.length === PLAIN_JSON) return undefined;
  const match = CHARSET.exec(contentType);
  if (match === null) return undefined;
  return (match[1] ?? match[2]).toLowerCase();
}
