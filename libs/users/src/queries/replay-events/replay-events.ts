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
  if (filter.until !== undefined) return followUntil(store, filter.until, streamPrefix, filter);
  return flatten(store.subscribeToAll({ after: filter.after, streamPrefix, signal: filter.signal }));
}

/** setTimeout's longest delay: past it, a timer fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * How long past `until` a follow goes on before it reads the log one last
 * time. An event's time is taken as its append begins, before its commit:
 * the store's `settle` then waits for appends still being committed, where it
 * can tell (SQLite); on EventStoreDB, whose server times events by its own
 * clock, this margin is all there is for a clock that runs ahead of it.
 */
export const FOLLOW_UNTIL_SETTLE_MS = 1_000;

/**
 * Follows the log until the clock passes `until` by FOLLOW_UNTIL_SETTLE_MS,
 * then, once the appends under way have settled, reads the rest up to the
 * head and ends, instead of following for ever an interval that is over.
 */
async function* followUntil(store: EventStore, until: number, streamPrefix: string, filter: ReplayFilter): AsyncIterable<RecordedEvent> {
  const following = new AbortController();
  const stop = () => following.abort();
  filter.signal?.addEventListener('abort', stop, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = until + FOLLOW_UNTIL_SETTLE_MS - Date.now();
    if (left <= 0) following.abort();
    else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  arm();
  let after = filter.after;
  try {
    for await (const page of store.subscribeToAll({ after, streamPrefix, signal: following.signal })) {
      for (const event of page) {
        after = event.position;
        yield event;
      }
    }
  } finally {
    clearTimeout(timer);
    filter.signal?.removeEventListener('abort', stop);
  }
  if (filter.signal?.aborted) return;
  // Appends timed before `until` but still being committed are waited for, not guessed at.
  await store.settle();
  yield* store.readAll({ after, streamPrefix });
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

/**
 * Times are compared with when events were recorded, so no sane one is before
 * 1973 (eleven digits of milliseconds): fewer digits are seconds since the
 * epoch, or an ISO year or basic date (`2027`, `20261201`), taken for
 * milliseconds of January 1970 they would match everything or nothing.
 */
const MIN_MILLISECOND_DIGITS = 11;
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Milliseconds since the epoch, or an ISO 8601 date (midnight UTC) or time
 * with its offset; else what is wrong with `text`, for a message. A time
 * without an offset is refused rather than read in the time zone of whichever
 * process parses it, which the CLI and the service need not share.
 */
export function readTime(text: string): number | string {
  if (/^\d+$/.test(text)) {
    if (text.length > 16) return 'must be milliseconds since the epoch or an ISO 8601 time';
    if (text.length < MIN_MILLISECOND_DIGITS) {
      return `must be milliseconds since the epoch (13 digits today) or an ISO 8601 time: ${text} would be ${new Date(Number(text)).toISOString()}`;
    }
    return Number(text);
  }
  const iso = ISO_TIME.exec(text);
  if (!iso) {
    // In a query string, `+` is a space: an offset such as +01:00 arrives as " 01:00".
    const hint = / \d{2}:?\d{2}$/.test(text) ? ' (in a URL, write the + of an offset as %2B)' : '';
    return `must be milliseconds since the epoch or an ISO 8601 time such as 2026-11-28 or 2026-11-28T09:30:00Z${hint}`;
  }
  if (text.includes('T') && iso[4] === undefined) return `must give its offset, Z for UTC (${text}Z), or be milliseconds since the epoch`;
  // Date.parse rolls a day that does not exist over into the next month (2026-02-30 is 2 March).
  const [year, month, date] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  const calendar = new Date(Date.UTC(year, month - 1, date));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== date) return `is not a date of the calendar: ${text}`;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? `is not a time: ${text}` : ms;
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
    const read = readTime(value);
    if (typeof read === 'number') return read;
    problems.push(`${names[key]} ${read}`);
    return undefined;
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
