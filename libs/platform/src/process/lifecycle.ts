import { Logger } from '@nestjs/common';
import { ConfigError } from '../config';
import { StorageStartError } from '../storage.module';

export interface Closable {
  close(): Promise<void>;
}

export interface CloseOnSignalsOptions {
  readonly logger: Logger;
  /** What closing means for this process, for the log line. */
  readonly what: string;
  /** Past this, the process exits 1 whatever is still open. */
  readonly timeoutMs: number;
  /** Called at half the bound if closing has not finished: a chance to cut what holds it open. */
  readonly onSlow?: () => void;
}

/**
 * On SIGTERM or SIGINT: close in order and exit 0, rather than dying on the
 * signal; exit 1 if closing fails or does not finish within the bound.
 */
export function closeOnSignals(app: Closable, options: CloseOnSignalsOptions): void {
  const { logger, timeoutMs } = options;
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // `on`, not `once`: a second signal during the shutdown (an impatient Ctrl-C, a supervisor
    // that repeats itself) would otherwise kill the process mid-way, its last log lines unwritten.
    process.on(signal, () => {
      if (closing) {
        logger.warn(`${signal} received again: already ${options.what}, within ${timeoutMs} ms of the first signal`);
        return;
      }
      closing = true;
      logger.log(`${signal} received, ${options.what} within ${timeoutMs} ms`);
      if (options.onSlow) setTimeout(options.onSlow, timeoutMs / 2).unref();
      setTimeout(() => {
        logger.error(`shutdown did not finish within ${timeoutMs} ms; exiting`);
        process.exit(1);
      }, timeoutMs).unref();
      app.close().then(
        () => {
          logger.log('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error(`shutdown failed: ${(error as Error)?.stack ?? String(error)}`);
          process.exit(1);
        },
      );
    });
  }
}

/**
 * A process that could not start: one clear line on stderr, and exit 1. A
 * mistake in the configuration, a store that cannot be opened or a system
 * call that failed (a port in use, an address this host does not have) is
 * said in that line alone, since it names what to fix and a stack would bury
 * it (DEBUG set adds the stack). Anything else is a fault of the program, and
 * its stack follows.
 */
export function exitOnStartFailure(name: string): (error: unknown) => never {
  return (error) => {
    const systemCall = typeof (error as NodeJS.ErrnoException)?.syscall === 'string';
    const said = error instanceof ConfigError || error instanceof StorageStartError || systemCall;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name}: ${said && !systemCall ? '' : 'failed to start: '}${message.split('\n')[0]}\n`);
    if ((!said || process.env.DEBUG) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  };
}
