#!/usr/bin/env node
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig, openEventStore, openReadModel, requireServiceDataDir } from '@visitorbase/platform';
import { PinoNestLogger, createLogger } from '@visitorbase/platform/observability/logging';
import { UsageError } from './cli-error';
import { keys } from './commands/keys';
import { projections } from './commands/projections';
import { replay } from './commands/replay';

const USAGE = `Usage: visitorbase <command> [options]

Commands:
  replay                 write raw events as NDJSON, with filters
  projections status     where the read model stands against the log
  projections rebuild    rebuild the read model beside the live one, then switch
  keys create --env N    make a new API key

It works on the stores the environment selects, as the service does:
DATA_DIR (default ./data), EVENT_STORE and EVENTSTORE_URL, READ_MODEL and MONGODB_URL.
Run "visitorbase <command> --help" for the options of a command.
`;

const NOT_USED_YET = 'no service has run with it yet, and one started later with it will accept the key';

/** Why a key added to DATA_DIR's key file may never be read by a service. */
function keyFileWarnings(config: ReturnType<typeof loadConfig>): string[] {
  const warnings: string[] = [];
  if (config.apiKeys) warnings.push('API_KEYS is set here: a service started with it takes its keys from it, not from the key file');
  try {
    requireServiceDataDir(config);
    // With both stores on servers, the key file may be all a service keeps there: only a directory
    // that did not exist yet says that no service has used it.
    if (!existsSync(config.dataDir)) {
      warnings.push(`${config.dataDir} did not exist; ${NOT_USED_YET}`);
    }
  } catch (error) {
    // Not an error: keys may be made before the first start. But a mistyped DATA_DIR is likelier.
    warnings.push(`${(error as Error).message}; ${NOT_USED_YET}`);
  }
  return warnings;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  const config = loadConfig();
  // Diagnostics go to stderr as JSON, warnings and worse unless LOG_LEVEL says otherwise: stdout is for data.
  Logger.overrideLogger(new PinoNestLogger(createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn', 2)));
  // The commands read what a service wrote: a data directory without an event store is a mistake, not an empty log.
  const existing = <T>(open: () => Promise<T>) => async () => {
    requireServiceDataDir(config);
    return open();
  };
  const stores = { config, events: existing(() => openEventStore(config)), readModel: existing(() => openReadModel(config)) };
  switch (command) {
    case 'replay':
      return replay(args, stores.events);
    case 'projections':
      return projections(args, stores);
    case 'keys':
      return keys(args, config.dataDir, keyFileWarnings(config));
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const usage = error instanceof UsageError || (error as NodeJS.ErrnoException)?.code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`visitorbase: ${(error as Error)?.message ?? String(error)}\n`);
  if (!usage && !(error instanceof ConfigError) && process.env.DEBUG) process.stderr.write(`${(error as Error)?.stack}\n`);
  process.exit(usage ? 2 : 1);
});
