import { Body, Controller, Header, HttpCode, Post, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { FastifyReply } from 'fastify';
import { Environment } from '@visitorbase/platform/http/environment.decorator';
import { StrictBodyPipe } from '@visitorbase/platform/validation/strict-body.pipe';
import { CONSISTENCY_TOKEN_HEADER, consistencyToken } from '../../queries/get-user/consistency-token';
import { UpsertUserCommand } from './upsert-user.command';
import { UpsertUserDto } from './upsert-user.dto';

@Controller('v2/users')
export class UpsertUserController {
  constructor(private readonly commands: CommandBus) {}

  /**
   * 202 only once the events are durable in the event store. The token names
   * the append's position: a GET that sends it back waits for the projection
   * to pass it, so the writer reads its own write.
   */
  @Post()
  @HttpCode(202)
  @Header('Content-Type', 'text/plain; charset=utf-8')
  async upsert(
    @Environment() environment: string,
    @Body(StrictBodyPipe) body: UpsertUserDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const appended = await this.commands.execute(new UpsertUserCommand(environment, body, Date.now()));
    reply.header(CONSISTENCY_TOKEN_HEADER, consistencyToken(appended.position));
    return 'Accepted';
  }
}
