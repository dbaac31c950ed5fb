import { RecordedEvent } from '@visitorbase/event-store';
import { VisitorFact, isVisitorEventType } from '../domain/events';
import { parseVisitorStream } from '../domain/visitor-stream';

/** The projection's view of a recorded event, or undefined for events it does not fold. */
export function toFact(event: RecordedEvent): VisitorFact | undefined {
  const key = parseVisitorStream(event.stream);
  if (!key || !isVisitorEventType(event.type)) return undefined;
  return { ...key, revision: event.revision, type: event.type, data: event.data } as VisitorFact;
}
