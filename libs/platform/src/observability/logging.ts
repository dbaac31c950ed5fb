import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LoggerService } from '@nestjs/common';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pino, { Bindings, ChildLoggerOptions, Logger } from 'pino';
import { LogLevelName } from '../config';
import { MALFORMED_REQUEST, routeOf } from './route';

/**
 * JSON logs. Nothing that identifies a customer or a visitor is logged at
 * info level: requests are logged by route pattern (`/v2/users/:userId`),
 * never by URL, and keys and email addresses are redacted wherever they
 * would appear in a logged object.
 */
export function createLogger(level: LogLevelName, fd: 1 | 2 = 1): Logger {
  return createLoggers(level, fd).logger;
}

export interface Loggers {
  /** For everything but the request lines: redacts keys and email addresses wherever they appear. */
  readonly logger: Logger;
  /**
   * For the request lines alone, which hold nothing to redact (method, route
   * pattern, status, duration, id): redaction walks every line it is given,
   * and a line per request made it a tenth of the cost of a GET.
   */
  readonly requests: Logger;
}

export function createLoggers(level: LogLevelName, fd: 1 | 2 = 1): Loggers {
  // Buffered: one write per 4 KB of lines rather than one per line, which a
  // busy service feels. What is buffered is written at least every second,
  // and pino writes the rest on exit; a SIGKILL can lose the last lines, never data.
  const destination = pino.destination({ dest: fd, sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), FLUSH_EVERY_MS).unref();
  const requests = pino({ level, base: { pid: process.pid }, timestamp: isoTimeByMillisecond }, destination);
  const logger = requests.child(
    {},
    {
      redact: {
        paths: [
          'authorization',
          'headers.authorization',
          '*.headers.authorization',
          'emailAddress',
          '*.emailAddress',
          'apiKey',
          '*.apiKey',
        ],
        censor: '[redacted]',
      },
    },
  );
  return { logger, requests };
}

/**
 * Fastify gives every request a child logger bound to its id. Nearly no
 * request ever logs through it (the request line is written by
 * `registerRequestLogging`), so it is made on first use instead.
 */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}

class LazyChildLogger {
  private made?: FastifyBaseLogger;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.real.level;
  }
  set level(level: string) {
    this.real.level = level;
  }
  fatal(...args: Parameters<FastifyBaseLogger['fatal']>): void {
    this.real.fatal(...args);
  }
  error(...args: Parameters<FastifyBaseLogger['error']>): void {
    this.real.error(...args);
  }
  warn(...args: Parameters<FastifyBaseLogger['warn']>): void {
    this.real.warn(...args);
  }
  info(...args: Parameters<FastifyBaseLogger['info']>): void {
    this.real.info(...args);
  }
  debug(...args: Parameters<FastifyBaseLogger['debug']>): void {
    this.real.debug(...args);
  }
  trace(...args: Parameters<FastifyBaseLogger['trace']>): void {
    this.real.trace(...args);
  }
  silent(...args: Parameters<FastifyBaseLogger['silent']>): void {
    this.real.silent(...args);
  }
  child(...args: Parameters<FastifyBaseLogger['child']>): FastifyBaseLogger {
    return this.real.child(...args);
  }
}

const FLUSH_EVERY_MS = 1_000;

let stampedAt = -1;
let stamp = '';

/**
 * pino's `isoTime`, formatted once per millisecond rather than once per line:
 * under load many request lines share a millisecond, and formatting the date
 * cost more than the rest of the line.
 */
export function isoTimeByMillisecond(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A request id from the caller's `X-Request-Id` when it is sane, else a new one. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

const failedAnswers = new WeakSet<object>();

/**
 * Marks an answer that failed on the server's side after its status line was
 * sent (a streamed body whose source failed): its connection is cut, which
 * would otherwise be logged and counted as the client giving up.
 */
export function markAnswerFailed(reply: FastifyReply): void {
  failedAnswers.add(reply.raw);
}

/** How request lines are written for requests answered outside the routes' hooks. */
export interface RequestLines {
  /** A request answered without its route's hooks (a routing failure, answered by Fastify). */
  answered(request: FastifyRequest, reply: FastifyReply): void;
  /** Bytes that were not an HTTP request (`code`: Node's parser error), answered on the socket with `status`. */
  malformed(status: number, code: string | undefined): void;
}

/** Who else is told of requests that end without an answer sent whole. */
export interface RequestEnds {
  /** The client closed the connection first. */
  aborted(request: FastifyRequest): void;
  /** The server failed the answer after its status line was sent (`markAnswerFailed`). */
  failed(request: FastifyRequest, reply: FastifyReply): void;
}

/**
 * One line per request once answered, with its id (also sent back as
 * `X-Request-Id`), the route pattern, status and duration; and one for a
 * request whose connection closed before its answer was sent (the client
 * gave up, often on a slow request), which `ends` is also told of, as of
 * an answer the server failed after it began.
 * Fastify's `onRequestAbort` sees only requests cut off before their body
 * was read, not a POST whose body was read and that then waited for the
 * store: the response's `close` is watched instead, from the hook that sets
 * the id, so that it costs one listener a request and no hook of its own.
 * Returns how to write the lines of requests no route's hooks see.
 */
export function registerRequestLogging(fastify: FastifyInstance, requests: Logger, ends?: RequestEnds): RequestLines {
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    reply.raw.on('close', () => {
      if (reply.raw.writableFinished) return;
      if (failedAnswers.has(reply.raw)) {
        ends?.failed(request, reply);
        requests.error(requestLine(request, reply), 'request failed after its answer began');
        return;
      }
      ends?.aborted(request);
      const line = { reqId: request.id, method: request.method, route: routeOf(request), aborted: true, ms: millisecondsOf(reply) };
      requests.info(line, 'request aborted by the client');
    });
    done();
  });
  const answered = (request: FastifyRequest, reply: FastifyReply) => {
    const line = requestLine(request, reply);
    if (line.status >= 500) requests.error(line, 'request failed');
    else requests.info(line, 'request');
  };
  fastify.addHook('onResponse', (request, reply, done) => {
    answered(request, reply);
    done();
  });
  return {
    answered,
    malformed: (status, code) => requests.info({ route: MALFORMED_REQUEST.route, status, code }, 'malformed request'),
  };
}

/** The fields of a request's line: never its URL, which may hold a userId. */
function requestLine(request: FastifyRequest, reply: FastifyReply) {
  return { reqId: request.id, method: request.method, route: routeOf(request), status: reply.statusCode, ms: millisecondsOf(reply) };
}

/** How long the request has taken, to a hundredth of a millisecond. */
function millisecondsOf(reply: FastifyReply): number {
  return Math.round(reply.elapsedTime * 100) / 100;
}

/** Nest's own logging (startup, projector, errors) into the same JSON stream. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    // Nest passes (message, stack?, context?).
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? params.pop() : undefined;
    const stack = typeof params[0] === 'string' ? params[0] : undefined;
    this.logger.error({ context, ...(stack ? { stack } : {}) }, text(message));
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: 'info' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, params: unknown[]): void {
    const context = typeof params[params.length - 1] === 'string' ? params[params.length - 1] : undefined;
    this.logger[level]({ context }, text(message));
  }
}

function text(message: unknown): string {
  return typeof message === 'string' ? message : message instanceof Error ? message.message : JSON.stringify(message);
}
