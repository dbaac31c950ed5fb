import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { EVENT_STORE, EventStore, SqliteEventStore } from '@visitorbase/event-store';
import { READ_MODEL, ReadModel, SqliteReadModel } from '@visitorbase/read-model';
import { AppConfig } from './config';

export const EVENT_STORE_FILE = 'events.sqlite';
export const READ_MODEL_FILE = 'read-model.sqlite';

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
        {
          provide: EVENT_STORE,
          useFactory: () => {
            mkdirSync(config.dataDir, { recursive: true });
            return new SqliteEventStore(join(config.dataDir, EVENT_STORE_FILE));
          },
        },
        {
          provide: READ_MODEL,
          useFactory: () => {
            mkdirSync(config.dataDir, { recursive: true });
            return new SqliteReadModel(join(config.dataDir, READ_MODEL_FILE));
          },
        },
      ],
      exports: [EVENT_STORE, READ_MODEL],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.events.close();
    await this.readModel.close();
  }
}
