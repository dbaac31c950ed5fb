import { Body, Controller, Header, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Environment } from '@visitorbase/platform/http/environment.decorator';
import { StrictBodyPipe } from '@visitorbase/platform/validation/strict-body.pipe';
import { UpsertUserCommand } from './upsert-user.command';
import { UpsertUserDto } from './upsert-user.dto';

@Controller('v2/users')
export class UpsertUserController {
  constructor(private readonly commands: CommandBus) {}

  /** 202 only once the events are durable in the event store. */
  @Post()
  @HttpCode(202)
  @Header('Content-Type', 'text/plain; charset=utf-8')
  async upsert(@Environment() environment: string, @Body(StrictBodyPipe) body: UpsertUserDto): Promise<string> {
    await this.commands.execute(new UpsertUserCommand(environment, body, Date.now()));
    return 'Accepted';
  }
}
