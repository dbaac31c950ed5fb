import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { STATUS_CODES } from 'node:http';
import { EventStoreUnavailableError } from '@visitorbase/event-store';

/**
 * Every error answer has Nest's `{statusCode, error, message}` shape, also
 * those raised by Fastify itself (415, 413, malformed JSON), and a store that
 * cannot be reached is a 503 the client may retry, never a 500.
 */
@Catch()
export class HttpErrorsFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('HTTP');

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (exception instanceof EventStoreUnavailableError) {
      this.logger.error(`event store unavailable: ${exception.message}`);
      const reply = host.switchToHttp().getResponse();
      reply
        .code(HttpStatus.SERVICE_UNAVAILABLE)
        .header('retry-after', '1')
        .send({ statusCode: 503, error: 'Service Unavailable', message: 'The event store is unavailable; retry later' });
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'object' && response !== null && 'message' in response
          ? (response as { message: unknown }).message
          : status === HttpStatus.UNSUPPORTED_MEDIA_TYPE
            ? 'Unsupported Media Type: send the body as JSON, with the header "Content-Type: application/json"'
            : exception.message;
      const reply = host.switchToHttp().getResponse();
      reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
      return;
    }
    super.catch(exception, host);
  }
}
