import { Logger } from '@nestjs/common';
import { LoggedEvent, formatPosition } from '@visitorbase/event-store';
import { VisitorFact, isVisitorEventType, malformedData } from '../domain/events';
import { VisitorKey, parseVisitorStream } from '../domain/visitor-stream';

const logger = new Logger('Projection');

/** The projection's view of a recorded event, or undefined for events it does not fold. */
export function toFact(event: LoggedEvent): VisitorFact | undefined {
  const key = parseVisitorStream(event.stream);
  return key && visitorFact(key, event);
}

/**
 * `toFact` for an event of a stream already parsed as `key`'s. An event of a
 * visitor's type whose data is not what the write side appends is skipped with
 * a warning, the same way by the live projection and by a rebuild, so that
 * both fold the same profiles.
 */
export function visitorFact(key: VisitorKey, event: LoggedEvent): VisitorFact | undefined {
  if (!isVisitorEventType(event.type)) return undefined;
  const malformed = malformedData(event.type, event.data);
  if (malformed !== undefined) {
    logger.warn(
      `skipped ${event.type} at revision ${event.revision} of ${JSON.stringify(event.stream)} (position ${formatPosition(event.position)}): ${malformed}`,
    );
    return undefined;
  }
  return { environment: key.environment, userId: key.userId, revision: event.revision, type: event.type, data: event.data } as VisitorFact;
}
