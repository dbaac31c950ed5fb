import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@visitorbase/platform';
import { closeOnSignals, exitOnStartFailure } from '@visitorbase/platform/process/lifecycle';
import { createApp } from './app.factory';

async function main(): Promise<void> {
  const config = loadConfig();
  const { app, flushLogs } = await createApp(config, { showCreatedKey });
  await app.listen(config.port, config.host);
  const logger = new Logger('visitorbase');
  // Close in order (stop the projector, stop listening, finish requests in
  // flight, flush appends, close the stores). A connection still busy halfway
  // through the bound (a client stalled mid-body, a long replay) is cut, its
  // request unanswered, so that the stores still flush and close in the other half.
  closeOnSignals(app, {
    logger,
    what: 'shutting down',
    timeoutMs: config.shutdownTimeoutMs ?? 10_000,
    onSlow: () => {
      logger.warn('requests still in flight after half the shutdown time: closing their connections');
      app.getHttpServer().closeAllConnections();
    },
  });
  logger.log(`listening on ${await app.getUrl()} with data in ${config.dataDir}`);
  // Whoever waits for the start (an operator, a supervisor) sees it now, not at the next flush.
  flushLogs();
}

/**
 * Shown once, as soon as it is made: only its hash is kept, in api-keys.json
 * under the data directory. On stderr, so that stdout stays JSON lines.
 */
function showCreatedKey(key: string): void {
  process.stderr.write(
    `\nA development API key was created for this data directory. It is shown only this once:\n\n` +
      `    Authorization: API-Key ${key}\n\n` +
      `Set API_KEYS="development:<key>,production:<key>" to choose your own keys.\n\n`,
  );
}

main().catch(exitOnStartFailure('visitorbase'));
