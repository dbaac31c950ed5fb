import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  AppConfig,
  KeyRing,
  frameworkErrors,
  registerApiKeyAuth,
  registerJsonOnly,
  registerRateLimit,
  registerSecurityHeaders,
} from '@visitorbase/platform';
import { LIMITS } from '@visitorbase/users';
import { AppModule } from './app.module';

export interface CreatedApp {
  readonly app: NestFastifyApplication;
  /** A development key made on this first start, to show once; undefined otherwise. */
  readonly createdKey?: string;
}

/** The whole HTTP application, as `main.ts` runs it and the end-to-end tests drive it. */
export async function createApp(config: AppConfig, options: { logger?: false } = {}): Promise<CreatedApp> {
  const { ring, createdKey } = config.apiKeys
    ? { ring: KeyRing.fromApiKeysVariable(config.apiKeys), createdKey: undefined }
    : KeyRing.fromDataDir(config.dataDir);
  const adapter = new FastifyAdapter({
    bodyLimit: LIMITS.bodyBytes,
    // A userId of 512 characters, percent-encoded, is far longer than Fastify's default of 100.
    routerOptions: { maxParamLength: 16 * 1024 },
    frameworkErrors,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bodyParser: false,
    logger: options.logger,
  });
  const fastify = app.getHttpAdapter().getInstance();
  registerJsonOnly(fastify, LIMITS.bodyBytes);
  registerSecurityHeaders(fastify);
  registerApiKeyAuth(fastify, ring);
  if (config.rateLimit) registerRateLimit(fastify, config.rateLimit);
  await app.init();
  return { app, createdKey };
}
