import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { EVENT_STORE, EventStore } from '@visitorbase/event-store';
import { APP_CONFIG, AppConfig } from '@visitorbase/platform/config';
import { READ_MODEL, ReadModel } from '@visitorbase/read-model';
import { UpsertUserController } from './commands/upsert-user/upsert-user.controller';
import { UpsertUserHandler } from './commands/upsert-user/upsert-user.handler';
import { UsersMetrics } from './projection/projection-metrics';
import { ProjectionWatcher } from './projection/projection-watcher';
import { ProjectionRunner } from './projection/projection-runner';
import { Projector } from './projection/projector';
import { ProjectorThread } from './projection/projector-thread';
import { GetUserController } from './queries/get-user/get-user.controller';
import { GetUserHandler } from './queries/get-user/get-user.handler';
import { ReplayEventsController } from './queries/replay-events/replay-events.controller';

/** The v2 Users API. Expects APP_CONFIG, EVENT_STORE and READ_MODEL to be provided globally. */
@Module({
  imports: [CqrsModule.forRoot()],
  controllers: [UpsertUserController, GetUserController, ReplayEventsController],
  providers: [
    UpsertUserHandler,
    GetUserHandler,
    Projector,
    {
      provide: ProjectionRunner,
      inject: [APP_CONFIG, EVENT_STORE, READ_MODEL, Projector],
      useFactory: (config: AppConfig, store: EventStore, readModel: ReadModel, inProcess: Projector): ProjectionRunner =>
        config.projectorThread ? new ProjectorThread({ config }, store, readModel) : inProcess,
    },
    ProjectionWatcher,
    UsersMetrics,
  ],
  exports: [ProjectionRunner, ProjectionWatcher],
})
export class UsersModule {}
