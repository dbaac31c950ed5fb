import { EventStore, Position, RecordedEvent, comparePositions, formatPosition, parsePosition } from '@visitorbase/event-store';
import { VISITOR_STREAM_PREFIX, parseVisitorStream, visitorStream } from '../../domain/visitor-stream';
import { EVENT_TRACKED, USER_UPSERTED, isVisitorEventType } from '../../domain/events';

/** Which events a replay yields. Every filter is optional; they combine with AND. */
export interface ReplayFilter {
  readonly environment?: string;
  readonly userId?: string;
  readonly type?: string;
  /** Recorded at or after, in milliseconds. */
  readonly since?: number;
  /** Recorded before, in milliseconds. */
  readonly until?: number;
  /** Only events after this position: pass the last position seen to resume. */
  readonly after?: Position;
  readonly limit?: number;
  /** Keep following new events once the log is read. */
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
}

/** One line of a replay: where the event sits, and its data exactly as appended. */
export interface ReplayLine {
  environment: string;
  userId: string;
  stream: string;
  revision: number;
  position: string;
  type: string;
  data: unknown;
  recordedAt: number;
}

export function toReplayLine(event: RecordedEvent): ReplayLine | undefined {
  const key = parseVisitorStream(event.stream);
  if (!key) return undefined;
  return {
    environment: key.environment,
    userId: key.userId,
    stream: event.stream,
    revision: event.revision,
    position: formatPosition(event.position),
    type: event.type,
    data: event.data,
    recordedAt: event.recordedAt,
  };
}

/** The visitor events of the log in global order, filtered, page by page. */
export async function* replayEvents(store: EventStore, filter: ReplayFilter = {}): AsyncIterable<ReplayLine> {
  let emitted = 0;
  const limit = filter.limit ?? Infinity;
  if (limit <= 0) return;
  for await (const event of source(store, filter)) {
    if (filter.signal?.aborted) return;
    const line = toReplayLine(event);
    if (!line || !matches(line, event, filter)) continue;
    yield line;
    if (++emitted >= limit) return;
  }
}

function source(store: EventStore, filter: ReplayFilter): AsyncIterable<RecordedEvent> {
  if (filter.userId !== undefined && filter.environment !== undefined && !filter.follow) {
    // One visitor: its own stream, not a scan of the log.
    return store.readStream(visitorStream({ environment: filter.environment, userId: filter.userId }));
  }
  const streamPrefix =
    filter.environment === undefined ? VISITOR_STREAM_PREFIX : `${VISITOR_STREAM_PREFIX}${filter.environment}-`;
  if (!filter.follow) return store.readAll({ after: filter.after, streamPrefix });
  return flatten(store.subscribeToAll({ after: filter.after, streamPrefix, signal: filter.signal }));
}

async function* flatten<T>(pages: AsyncIterable<readonly T[]>): AsyncIterable<T> {
  for await (const page of pages) yield* page;
}

function matches(line: ReplayLine, event: RecordedEvent, filter: ReplayFilter): boolean {
  return (
    (filter.environment === undefined || line.environment === filter.environment) &&
    (filter.userId === undefined || line.userId === filter.userId) &&
    (filter.type === undefined || line.type === filter.type) &&
    (filter.since === undefined || line.recordedAt >= filter.since) &&
    (filter.until === undefined || line.recordedAt < filter.until) &&
    (filter.after === undefined || comparePositions(event.position, filter.after) > 0)
  );
}

/** Milliseconds since the epoch, or an ISO 8601 time; undefined when neither. */
export function parseTime(text: string): number | undefined {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!day) return undefined;
  // Date.parse rolls a day that does not exist over into the next month (2026-02-30 is 2 March).
  const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])];
  const calendar = new Date(Date.UTC(year, month - 1, date));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== date) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The largest `limit` a replay takes: nine digits. */
export const MAX_LIMIT = 999_999_999;

export interface ReplayQueryText {
  readonly userId?: string;
  readonly type?: string;
  readonly since?: string;
  readonly until?: string;
  readonly fromPosition?: string;
  readonly limit?: string;
}

/** Reads the text filters shared by the CLI and GET /v2/events; lists every problem. */
export function parseReplayFilter(text: ReplayQueryText, names: Record<keyof ReplayQueryText, string>): {
  filter: Omit<ReplayFilter, 'environment' | 'follow' | 'signal'>;
  problems: string[];
} {
  const problems: string[] = [];
  const time = (key: 'since' | 'until') => {
    const value = text[key];
    if (value === undefined) return undefined;
    const ms = parseTime(value);
    if (ms === undefined) problems.push(`${names[key]} must be milliseconds since the epoch or an ISO 8601 time`);
    return ms;
  };
  let after: Position | undefined;
  if (text.fromPosition !== undefined) {
    after = parsePosition(text.fromPosition);
    if (!after) problems.push(`${names.fromPosition} must be a position as printed in a replay line`);
  }
  let limit: number | undefined;
  if (text.limit !== undefined) {
    limit = /^\d{1,9}$/.test(text.limit) ? Number(text.limit) : NaN; // at most MAX_LIMIT
    if (!Number.isInteger(limit) || limit < 1) problems.push(`${names.limit} must be an integer from 1 to ${MAX_LIMIT}`);
  }
  if (text.userId === '') problems.push(`${names.userId} must not be empty`);
  // A misspelt type would match nothing, and look like an empty log.
  if (text.type !== undefined && !isVisitorEventType(text.type)) {
    problems.push(`${names.type} must be ${USER_UPSERTED} or ${EVENT_TRACKED}`);
  }
  return {
    filter: {
      ...(text.userId !== undefined ? { userId: text.userId } : {}),
      ...(text.type !== undefined ? { type: text.type } : {}),
      since: time('since'),
      until: time('until'),
      after,
      limit,
    },
    problems,
  };
}
