import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { READ_MODEL, ReadModel } from '@visitorbase/read-model';
import { GetUserQuery } from './get-user.query';

@QueryHandler(GetUserQuery)
export class GetUserHandler implements IQueryHandler<GetUserQuery, string | undefined> {
  constructor(@Inject(READ_MODEL) private readonly readModel: ReadModel) {}

  execute(query: GetUserQuery): Promise<string | undefined> {
    return this.readModel.findProfileJson(query.environment, query.userId);
  }
}
