import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyReply, FastifyRequest, LogController } from 'fastify';
import {
  AppConfig,
  KeyRing,
  clientErrorHandler,
  followKeyFile,
  frameworkErrors,
  registerApiKeyAuth,
  registerJsonOnly,
  registerRateLimit,
  registerSecurityHeaders,
} from '@visitorbase/platform';
import { PinoNestLogger, RequestLines, createLoggers, lazyChildLogger, registerRequestLogging, requestId } from '@visitorbase/platform/observability/logging';
import { HttpRequestCounts, METRICS_REGISTRY, registerHttpMetrics } from '@visitorbase/platform/observability/metrics';
import { LIMITS } from '@visitorbase/users';
import { AppModule } from './app.module';
import { setupOpenApi } from './openapi';

export interface CreatedApp {
  readonly app: NestFastifyApplication;
  /** Writes out the log lines still buffered. */
  readonly flushLogs: () => void;
}

export interface CreateAppOptions {
  readonly logger?: false;
  /**
   * Called with the development key made on a first start, as soon as it is
   * made: only its hash is kept, so it must be shown before anything else
   * can fail (a port in use, a store out of reach), or it is lost.
   */
  readonly showCreatedKey?: (key: string) => void;
}

/** The whole HTTP application, as `main.ts` runs it and the end-to-end tests drive it. */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<CreatedApp> {
  const { ring, createdKey } = config.apiKeys
    ? { ring: KeyRing.fromApiKeysVariable(config.apiKeys), createdKey: undefined }
    : KeyRing.fromDataDir(config.dataDir);
  if (createdKey !== undefined) options.showCreatedKey?.(createdKey);
  const { logger, requests } = createLoggers(options.logger === false ? 'silent' : config.logLevel);
  // Answers given before any route's hooks run, logged and counted once those are set up below.
  let outsideRoutes: { lines: RequestLines; counts: HttpRequestCounts } | undefined;
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    childLoggerFactory: lazyChildLogger,
    // No Nest middleware here: without it, every request would still pass through middie's hook.
    skipMiddie: true,
    // One line per request is written by registerRequestLogging, by route pattern, never by URL.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    bodyLimit: LIMITS.bodyBytes,
    // A userId of 512 characters, percent-encoded, is far longer than Fastify's default of 100.
    // And `/v2/users/u1/` is `/v2/users/u1`, as most HTTP APIs take it, rather than a 404 of another shape.
    routerOptions: { maxParamLength: 16 * 1024, ignoreTrailingSlash: true },
    frameworkErrors: (error: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
      frameworkErrors(error, request, reply);
      outsideRoutes?.lines.answered(request, reply);
      outsideRoutes?.counts.answered(request, reply);
    },
    clientErrorHandler: (error, socket) => {
      const status = clientErrorHandler(error, socket);
      if (status === undefined) return;
      outsideRoutes?.lines.malformed(status, (error as NodeJS.ErrnoException).code);
      outsideRoutes?.counts.malformed(status);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    // A store that cannot be opened is thrown to the caller, which says so on stderr whatever
    // the log level, instead of being logged by Nest (unseen below `error`) before it exits.
    abortOnError: false,
    bodyParser: false,
    logger: new PinoNestLogger(logger),
  });
  const fastify = app.getHttpAdapter().getInstance();
  const counts = registerHttpMetrics(fastify, app.get(METRICS_REGISTRY));
  outsideRoutes = { lines: registerRequestLogging(fastify, requests, counts), counts };
  registerJsonOnly(fastify, LIMITS.bodyBytes);
  registerSecurityHeaders(fastify);
  registerApiKeyAuth(fastify, ring);
  if (!config.apiKeys) {
    // Keys made by `keys create` count without a restart.
    const unfollow = followKeyFile(ring, config.dataDir, (message) => logger.warn(message));
    fastify.addHook('onClose', (_instance, done) => {
      unfollow();
      done();
    });
  }
  if (config.rateLimit) registerRateLimit(fastify, config.rateLimit);
  setupOpenApi(app);
  await app.init();
  return { app, flushLogs: () => logger.flush() };
}
