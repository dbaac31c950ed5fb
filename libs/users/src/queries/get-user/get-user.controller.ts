import { Controller, Get, Param, Res } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import type { FastifyReply } from 'fastify';
import { Environment } from '@visitorbase/platform/http/environment.decorator';
import { GetUserQuery } from './get-user.query';

@Controller('v2/users')
export class GetUserController {
  constructor(private readonly queries: QueryBus) {}

  /**
   * The read model keeps each body serialized, so it is sent as it is. Until
   * the projection has the visitor the answer is the seed's plain 404.
   */
  @Get(':userId')
  async get(
    @Environment() environment: string,
    @Param('userId') userId: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const body = await this.queries.execute(new GetUserQuery(environment, userId));
    if (body === undefined) {
      await reply.code(404).type('text/plain; charset=utf-8').send('Not Found');
      return;
    }
    await reply.code(200).type('application/json; charset=utf-8').send(body);
  }
}
