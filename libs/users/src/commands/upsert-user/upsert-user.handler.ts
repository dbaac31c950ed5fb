import { createHash } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { AppendResult, EVENT_STORE, EventIdConflictError, EventStore, NewEvent, newEventId } from '@visitorbase/event-store';
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
 * Attributes are a JSON object, whose members have no order: a retry that
 * sends them in another order is the same request, so they are digested in
 * the order of their names. (A request whose attributes came in that order
 * has the digest it had before names were sorted.)
 */
export function requestDigest(command: UpsertUserCommand, attributeOrder: AttributeOrder = 'sorted'): string {
  const { userId, attributes, emailAddress, events } = command.body;
  const given = attributes ?? {};
  const ordered = attributeOrder === 'sorted' ? Object.fromEntries(Object.keys(given).sort().map((name) => [name, given[name]])) : given;
  const asked = [userId, ordered, emailAddress ?? null, (events ?? []).map((e) => [e.event, e.timestamp ?? null])];
  return createHash('sha256').update(JSON.stringify(asked)).digest('base64url');
}

type AttributeOrder = 'sorted' | 'as-sent';

/** Turns a validated upsert into events for the visitor's stream. Pure but for random ids. */
export function upsertEvents(
  command: UpsertUserCommand,
  newId: () => string = eventIds(command),
  attributeOrder: AttributeOrder = 'sorted',
): NewEvent[] {
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
      : { environment: command.environment, request: requestDigest(command, attributeOrder) };
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
    let result: AppendResult;
    try {
      result = await this.store.append(stream, events, 'any');
    } catch (error) {
      result = await this.asDigestedBefore(command, stream, error);
    }
    // A retry the store recognised wrote nothing: counted once, when it was first stored.
    if (!result.replayed) {
      this.metrics.eventsAppended.inc({ type: USER_UPSERTED });
      if (events.length > 1) this.metrics.eventsAppended.inc({ type: EVENT_TRACKED }, events.length - 1);
    }
    return result;
  }

  /**
   * A retry of a request stored while attributes were digested in the order
   * they were sent: when that order was not sorted, the digests differ, and
   * the retry is tried once more under the old one.
   */
  private async asDigestedBefore(command: UpsertUserCommand, stream: string, error: unknown): Promise<AppendResult> {
    if (!(error instanceof EventIdConflictError) || requestDigest(command, 'as-sent') === requestDigest(command)) throw error;
    return this.store.append(stream, upsertEvents(command, eventIds(command), 'as-sent'), 'any');
  }
}
