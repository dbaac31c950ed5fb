import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig } from '@visitorbase/platform';
import { PinoNestLogger, createLogger } from '@visitorbase/platform/observability/logging';
import { ProjectorModule } from './projector.module';

async function main(): Promise<void> {
  const config = loadConfig();
  // A store that cannot be opened is logged by Nest, which then exits with 1.
  const app = await NestFactory.createApplicationContext(ProjectorModule.forRoot(config), {
    logger: new PinoNestLogger(createLogger(config.logLevel)),
  });
  const logger = new Logger('visitorbase');
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (closing) return;
      closing = true;
      logger.log(`${signal} received, stopping the projector`);
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error(`shutdown failed: ${(error as Error)?.stack ?? String(error)}`);
          process.exit(1);
        },
      );
    });
  }
  logger.log('projector running');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`visitorbase projector: ${error.message}\n`);
  } else {
    process.stderr.write(`visitorbase projector: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
