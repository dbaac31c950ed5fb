import { Logger, LoggerService } from '@nestjs/common';

/** A log line a worker thread sends to the thread that started it, to be written there. */
export interface ThreadLogLine {
  readonly type: 'log';
  readonly level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  readonly message: string;
  readonly context?: string;
}

/**
 * Nest's logger inside a worker thread: each line goes to the parent thread,
 * whose logger writes it (as JSON, at its level, where its process writes
 * logs). Installed with `Logger.overrideLogger`.
 */
export class ToParentLogger implements LoggerService {
  log = this.send('log');
  error = this.send('error');
  warn = this.send('warn');
  debug = this.send('debug');
  verbose = this.send('verbose');
  fatal = this.send('fatal');

  constructor(private readonly post: (line: ThreadLogLine) => void) {}

  private send(level: ThreadLogLine['level']) {
    return (message: unknown, ...params: unknown[]) => {
      const context = typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
      this.post({ type: 'log', level, message: typeof message === 'string' ? message : String((message as Error)?.message ?? message), context });
    };
  }
}

/** Writes a line a worker thread sent, through this thread's logger. */
export function writeThreadLog(line: ThreadLogLine, fallbackContext: string): void {
  new Logger(line.context ?? fallbackContext)[line.level](line.message);
}
