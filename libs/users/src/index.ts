export * from './domain';
export * from './commands/upsert-user/upsert-user.command';
export * from './commands/upsert-user/upsert-user.dto';
export * from './commands/upsert-user/upsert-user.handler';
export * from './queries/get-user/get-user.query';
export * from './projection/projector';
export * from './projection/to-fact';
export * from './users.module';
