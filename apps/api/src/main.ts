import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@visitorbase/platform';
import { createApp } from './app.factory';

async function main(): Promise<void> {
  const config = loadConfig();
  const { app, createdKey } = await createApp(config);
  await app.listen(config.port, config.host);
  const logger = new Logger('visitorbase');
  // Close in order (stop the projector, stop listening, finish requests in
  // flight, flush appends, close the stores) and exit 0, rather than dying on
  // the signal. Within a bound: a connection still busy halfway through it (a
  // client stalled mid-body, a long replay) is cut, its request unanswered, so
  // that the stores still flush and close in the other half; past the bound
  // the process exits 1.
  const timeoutMs = config.shutdownTimeoutMs ?? 10_000;
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (closing) return;
      closing = true;
      logger.log(`${signal} received, shutting down within ${timeoutMs} ms`);
      const server = app.getHttpServer();
      setTimeout(() => {
        logger.warn('requests still in flight after half the shutdown time: closing their connections');
        server.closeAllConnections();
      }, timeoutMs / 2).unref();
      setTimeout(() => {
        logger.error(`shutdown did not finish within ${timeoutMs} ms; exiting`);
        process.exit(1);
      }, timeoutMs).unref();
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error(`shutdown failed: ${(error as Error)?.stack ?? String(error)}`);
          process.exit(1);
        },
      );
    });
  }
  if (createdKey) {
    // Shown once: only its hash is kept, in api-keys.json under the data directory.
    process.stdout.write(
      `\nA development API key was created for this data directory. It is shown only this once:\n\n` +
        `    Authorization: API-Key ${createdKey}\n\n` +
        `Set API_KEYS="development:<key>,production:<key>" to choose your own keys.\n\n`,
    );
  }
  logger.log(`listening on ${await app.getUrl()} with data in ${config.dataDir}`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`visitorbase: ${error.message}\n`);
  } else {
    process.stderr.write(`visitorbase: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
