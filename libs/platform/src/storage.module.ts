import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DynamicModule, Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { EVENT_STORE, EventStore, SqliteEventStore } from '@visitorbase/event-store';
import { EventStoreDbEventStore } from '@visitorbase/event-store/eventstoredb';
import { READ_MODEL, ReadModel, SqliteReadModel } from '@visitorbase/read-model';
import { MongoReadModel } from '@visitorbase/read-model/mongodb';
import { AppConfig, ConfigError, redactUrl } from './config';

export const EVENT_STORE_FILE = 'events.sqlite';
export const READ_MODEL_FILE = 'read-model.sqlite';

/**
 * A configured backend could not be opened at start; the process cannot serve
 * without it. Meant for whoever runs the process: the message names the
 * backend, its URL and the reason, and is all that is printed, since the
 * stack and the client's own error chain would bury it.
 */
export class StorageStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageStartError';
    this.stack = `${this.name}: ${message}`;
  }
}

/** Opens the stores the configuration selects and closes them last on shutdown. */
@Global()
@Module({})
export class StorageModule implements OnApplicationShutdown {
  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(READ_MODEL) private readonly readModel: ReadModel,
  ) {}

  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: StorageModule,
      providers: [
        { provide: EVENT_STORE, useFactory: () => openEventStore(config, SERVING) },
        { provide: READ_MODEL, useFactory: () => openReadModel(config, SERVING) },
      ],
      exports: [EVENT_STORE, READ_MODEL],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.events.close();
    await this.readModel.close();
  }
}

const logger = new Logger('Storage');

export interface OpenOptions {
  /**
   * A long-running process whose event loop serves requests or follows the
   * log: SQLite files get their WAL checkpoints copied from a background
   * thread (`WalCheckpointer`). A command that opens a store for a moment
   * has nothing to stall and leaves it off.
   */
  readonly serving?: boolean;
}

/** How the Nest applications (the service, the projector) open their stores. */
const SERVING: OpenOptions = { serving: true };

/**
 * For tools that read what a service wrote (the CLI): an embedded event store
 * must already be in the data directory. Opened anyway, a mistyped DATA_DIR
 * would be made into new, empty stores, and a replay of it would say 0 events.
 */
export function requireServiceDataDir(config: AppConfig): void {
  const embedded = (store: { kind: string } | undefined) => (store ?? { kind: 'sqlite' }).kind === 'sqlite';
  if (embedded(config.eventStore)) {
    if (!existsSync(join(config.dataDir, EVENT_STORE_FILE))) {
      throw new ConfigError(`no event store in ${config.dataDir} (no ${EVENT_STORE_FILE}): set DATA_DIR to the service's data directory`);
    }
  } else if (embedded(config.readModel) && !existsSync(config.dataDir)) {
    // The log is elsewhere, the read model here: a data directory that does not exist is a typo.
    throw new ConfigError(`no data directory ${config.dataDir} for the read model: set DATA_DIR to the service's data directory`);
  }
}

/** The event store the configuration selects, opened; for processes without Nest (the CLI). */
export async function openEventStore(config: AppConfig, options: OpenOptions = {}): Promise<EventStore> {
  const backend = config.eventStore ?? { kind: 'sqlite' };
  if (backend.kind === 'eventstoredb') {
    const where = `EventStoreDB at ${redactUrl(backend.url)}`;
    const store = await opening('event store', where, backend.url, () => EventStoreDbEventStore.connect(backend.url));
    logger.log(`event store: ${where}`);
    return store;
  }
  const file = join(config.dataDir, EVENT_STORE_FILE);
  return openingFile('event store', file, () => new SqliteEventStore(file, { backgroundCheckpoints: options.serving === true }));
}

/** The read model the configuration selects, opened. */
export async function openReadModel(config: AppConfig, options: OpenOptions = {}): Promise<ReadModel> {
  const backend = config.readModel ?? { kind: 'sqlite' };
  if (backend.kind === 'mongodb') {
    const where = `MongoDB at ${redactUrl(backend.url)}`;
    const readModel = await opening('read model', where, backend.url, () => MongoReadModel.connect(backend.url));
    logger.log(`read model: ${where}`);
    return readModel;
  }
  const file = join(config.dataDir, READ_MODEL_FILE);
  return openingFile('read model', file, () => new SqliteReadModel(file, { backgroundCheckpoints: options.serving === true }));
}

/** An embedded store: its directory made if need be; a failure names the file (a read-only volume, a file that is not SQLite). */
function openingFile<T>(what: string, file: string, open: () => T): T {
  try {
    mkdirSync(dirname(file), { recursive: true });
    return open();
  } catch (error) {
    throw new StorageStartError(`cannot open the ${what}, SQLite at ${file}: ${String((error as Error)?.message ?? error).split('\n')[0]}`);
  }
}

async function opening<T>(what: string, where: string, url: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    // Client messages may quote the whole URL, credentials included, over several lines.
    const reason = String((error as Error)?.message ?? error)
      .split('\n')[0]
      .split(url)
      .join(redactUrl(url));
    throw new StorageStartError(`cannot open the ${what}, ${where}: ${reason}`);
  }
}
