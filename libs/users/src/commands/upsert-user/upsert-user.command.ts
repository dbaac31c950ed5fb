import { Command } from '@nestjs/cqrs';
import { AppendResult } from '@visitorbase/event-store';
import { UpsertUserDto } from './upsert-user.dto';

export class UpsertUserCommand extends Command<AppendResult> {
  constructor(
    readonly environment: string,
    readonly body: UpsertUserDto,
    /** Milliseconds at which the request was received. */
    readonly receivedAt: number,
    /** The client's Idempotency-Key: a retry with the same key is stored once. */
    readonly idempotencyKey?: string,
  ) {
    super();
  }
}
