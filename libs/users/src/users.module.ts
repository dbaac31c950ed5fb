import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { UpsertUserController } from './commands/upsert-user/upsert-user.controller';
import { UpsertUserHandler } from './commands/upsert-user/upsert-user.handler';
import { UsersMetrics } from './projection/projection-metrics';
import { ProjectionWatcher } from './projection/projection-watcher';
import { Projector } from './projection/projector';
import { GetUserController } from './queries/get-user/get-user.controller';
import { GetUserHandler } from './queries/get-user/get-user.handler';
import { ReplayEventsController } from './queries/replay-events/replay-events.controller';

/** The v2 Users API. Expects EVENT_STORE and READ_MODEL to be provided globally. */
@Module({
  imports: [CqrsModule.forRoot()],
  controllers: [UpsertUserController, GetUserController, ReplayEventsController],
  providers: [UpsertUserHandler, GetUserHandler, Projector, ProjectionWatcher, UsersMetrics],
  exports: [Projector, ProjectionWatcher],
})
export class UsersModule {}
