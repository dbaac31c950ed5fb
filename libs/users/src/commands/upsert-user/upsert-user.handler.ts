import { createHash } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { AppendResult, EVENT_STORE, EventStore, NewEvent, newEventId } from '@visitorbase/event-store';
import { EVENT_TRACKED, EventTrackedData, USER_UPSERTED, UserUpsertedData } from '../../domain/events';
import { idempotentEventId } from '../../domain/visitor-id';
import { visitorStream } from '../../domain/visitor-stream';
import { UsersMetrics } from '../../projection/projection-metrics';
import { UpsertUserCommand } from './upsert-user.command';

/** Event ids: random, or derived from the Idempotency-Key so that a retry carries the same ones. */
function eventIds(command: UpsertUserCommand): () => string {
  const key = command.idempotencyKey;
  if (key === undefined) return newEventId;
  let index = 0;
  return () => idempotentEventId(command.environment, command.body.userId, key, index++);
}

/**
 * What a request asked for, apart from when it arrived: a retry has the same
 * digest, another request under the same Idempotency-Key a different one.
 */
function requestDigest(command: UpsertUserCommand): string {
  const { userId, attributes, emailAddress, events } = command.body;
  const asked = [userId, attributes ?? {}, emailAddress ?? null, (events ?? []).map((e) => [e.event, e.timestamp ?? null])];
  return createHash('sha256').update(JSON.stringify(asked)).digest('base64url');
}

/** Turns a validated upsert into events for the visitor's stream. Pure but for random ids. */
export function upsertEvents(command: UpsertUserCommand, newId: () => string = eventIds(command)): NewEvent[] {
  const { userId, attributes, emailAddress, events } = command.body;
  const upserted: UserUpsertedData = {
    userId,
    receivedAt: command.receivedAt,
    attributes: attributes ?? {},
    ...(emailAddress != null ? { emailAddress } : {}),
  };
  const metadata =
    command.idempotencyKey === undefined
      ? { environment: command.environment }
      : { environment: command.environment, request: requestDigest(command) };
  return [
    { id: newId(), type: USER_UPSERTED, data: upserted, metadata },
    ...(events ?? []).map((item): NewEvent => {
      const data: EventTrackedData = { userId, event: item.event, timestamp: item.timestamp ?? command.receivedAt };
      return { id: newId(), type: EVENT_TRACKED, data, metadata };
    }),
  ];
}

/**
 * Appends one UserUpserted and one EventTracked per tracked event, atomically,
 * and resolves once they are durable. Any upsert is valid whatever the
 * visitor's state, so no revision is expected.
 */
@CommandHandler(UpsertUserCommand)
export class UpsertUserHandler implements ICommandHandler<UpsertUserCommand, AppendResult> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly metrics: UsersMetrics,
  ) {}

  async execute(command: UpsertUserCommand): Promise<AppendResult> {
    const stream = visitorStream({ environment: command.environment, userId: command.body.userId });
    const events = upsertEvents(command);
    const result = await this.store.append(stream, events, 'any');
    this.metrics.eventsAppended.inc({ type: USER_UPSERTED });
    if (events.length > 1) this.metrics.eventsAppended.inc({ type: EVENT_TRACKED }, events.length - 1);
    return result;
  }
}
