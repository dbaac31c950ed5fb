import { LoggedEvent } from '@visitorbase/event-store';
import { VisitorFact, isVisitorEventType } from '../domain/events';
import { VisitorKey, parseVisitorStream } from '../domain/visitor-stream';

/** The projection's view of a recorded event, or undefined for events it does not fold. */
export function toFact(event: LoggedEvent): VisitorFact | undefined {
  const key = parseVisitorStream(event.stream);
  return key && visitorFact(key, event);
}

/** `toFact` for an event of a stream already parsed as `key`'s. */
export function visitorFact(key: VisitorKey, event: LoggedEvent): VisitorFact | undefined {
  if (!isVisitorEventType(event.type)) return undefined;
  return { environment: key.environment, userId: key.userId, revision: event.revision, type: event.type, data: event.data } as VisitorFact;
}
