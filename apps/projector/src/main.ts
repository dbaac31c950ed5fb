import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@visitorbase/platform';
import { closeOnSignals, exitOnStartFailure } from '@visitorbase/platform/process/lifecycle';
import { PinoNestLogger, createLogger } from '@visitorbase/platform/observability/logging';
import { ProjectorModule } from './projector.module';

async function main(): Promise<void> {
  const config = loadConfig();
  // A store that cannot be opened is thrown here, and said on stderr whatever the log level.
  const app = await NestFactory.createApplicationContext(ProjectorModule.forRoot(config), {
    abortOnError: false,
    logger: new PinoNestLogger(createLogger(config.logLevel)),
  });
  const logger = new Logger('visitorbase');
  closeOnSignals(app, { logger, what: 'stopping the projector', timeoutMs: config.shutdownTimeoutMs ?? 10_000 });
  logger.log('projector running');
}

main().catch(exitOnStartFailure('visitorbase projector'));
