import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EventIdConflictError, EventStoreUnavailableError } from '@visitorbase/event-store';
import { ReadModelUnavailableError } from '@visitorbase/read-model';
import { errorBody } from './error-body';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Every error answer has Nest's `{statusCode, error, message}` shape, also
 * those raised by Fastify itself (415, 413, malformed JSON); a store that
 * cannot be reached is a 503 the client may retry; anything else is a 500
 * that tells the client nothing internal and is logged.
 */
@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const store = unavailableStore(exception);
    if (store !== undefined) {
      this.logger.error(`${store} unavailable: ${(exception as Error).message}`);
      reply.header('retry-after', '1');
      send(reply, HttpStatus.SERVICE_UNAVAILABLE, `The ${store} is unavailable; retry later`);
      return;
    }
    if (exception instanceof EventIdConflictError) {
      send(reply, HttpStatus.CONFLICT, 'This Idempotency-Key was used before for a different request');
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      if (typeof response === 'object' && response !== null && !('message' in response)) {
        // A structured answer of its own (the health checks' report): sent as it is.
        void reply.code(status).type(JSON_TYPE).send(JSON.stringify(response));
        return;
      }
      const message =
        typeof response === 'object' && response !== null && 'message' in response
          ? (response as { message: unknown }).message
          : status === HttpStatus.UNSUPPORTED_MEDIA_TYPE
            ? 'Unsupported Media Type: send the body as JSON, with the header "Content-Type: application/json"'
            : exception.message;
      send(reply, status, message);
      return;
    }
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    if ((exception as NodeJS.ErrnoException)?.code === 'ECONNRESET' && (request.raw.destroyed || request.raw.socket?.destroyed)) {
      // The client went away in the middle of its request (or a shutdown cut a stalled one):
      // nobody is left to answer, and nothing failed here.
      send(reply, HttpStatus.BAD_REQUEST, 'The request was aborted before its body arrived');
      return;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    send(reply, HttpStatus.INTERNAL_SERVER_ERROR, 'Internal server error');
  }
}

function unavailableStore(exception: unknown): string | undefined {
  if (exception instanceof EventStoreUnavailableError) return 'event store';
  if (exception instanceof ReadModelUnavailableError) return 'read model';
  return undefined;
}

function send(reply: FastifyReply, status: number, message: unknown): void {
  // The route may already have set another content type (POST answers text/plain).
  void reply.code(status).type(JSON_TYPE).send(errorBody(status, message));
}
