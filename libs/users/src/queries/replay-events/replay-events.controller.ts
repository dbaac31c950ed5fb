import { Readable } from 'node:stream';
import { BadRequestException, Controller, Get, Inject, Logger, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { EVENT_STORE, EventStore } from '@visitorbase/event-store';
import { Environment } from '@visitorbase/platform/http/environment.decorator';
import { ApiV2Answers, ERROR_SCHEMA } from '../../openapi';
import { readQuery } from '@visitorbase/platform/http/query-string';
import { markAnswerFailed } from '@visitorbase/platform/observability/logging';
import { MAX_LIMIT, ReplayLine, ReplayQueryText, parseReplayFilter, replayEvents } from './replay-events';

const QUERY_NAMES = {
  userId: 'userId',
  type: 'type',
  since: 'since',
  until: 'until',
  fromPosition: 'fromPosition',
  limit: 'limit',
} as const;

@ApiTags('replay')
@ApiSecurity('ApiKey')
@Controller('v2/events')
export class ReplayEventsController {
  private readonly logger = new Logger('Replay');

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  /**
   * The caller's environment's raw events as NDJSON, in global order. The
   * body is a stream pulled as the client reads it: a slow client holds back
   * the reading of the log instead of filling memory.
   */
  @Get()
  @ApiOperation({ summary: "Stream the raw events of the caller's environment as NDJSON, in global order" })
  @ApiQuery({ name: 'userId', required: false, schema: { type: 'string', minLength: 1 } })
  @ApiQuery({ name: 'type', required: false, enum: ['UserUpserted', 'EventTracked'] })
  @ApiQuery({ name: 'since', required: false, schema: { type: 'string' }, description: 'recorded at or after: milliseconds since the epoch, a date (midnight UTC), or an ISO 8601 time with its offset (Z, %2B01:00)' })
  @ApiQuery({ name: 'until', required: false, schema: { type: 'string' }, description: 'recorded before: milliseconds since the epoch, a date (midnight UTC), or an ISO 8601 time with its offset (Z, %2B01:00)' })
  @ApiQuery({
    name: 'fromPosition',
    required: false,
    schema: { type: 'string' },
    description: 'only events after this position (the last one seen)',
  })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT } })
  @ApiResponse({
    status: 200,
    description: 'One JSON object per line: environment, userId, stream, revision, position, type, data, recordedAt',
    content: { 'application/x-ndjson': { schema: { type: 'string' } } },
  })
  @ApiResponse({ status: 400, description: 'A filter that is malformed, repeated or not supported (every problem is listed)', schema: ERROR_SCHEMA })
  @ApiV2Answers('The event store is unavailable')
  async replay(
    @Environment() environment: string,
    @Query() query: Record<string, unknown>,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { values: text, problems } = readQuery(query, Object.keys(QUERY_NAMES) as Array<keyof ReplayQueryText>, reply.request.raw.url ?? '');
    const parsed = parseReplayFilter(text, QUERY_NAMES);
    problems.push(...parsed.problems);
    if (problems.length > 0) throw new BadRequestException(problems);

    const abort = new AbortController();
    reply.raw.on('close', () => abort.abort());
    const lines = replayEvents(this.store, { ...parsed.filter, environment, signal: abort.signal })[Symbol.asyncIterator]();
    // The first line is read before the status is sent: a store that cannot be read is a 503, not an empty 200.
    const first = await lines.next();
    const body = Readable.from(this.ndjson(first, lines, reply), { objectMode: false, highWaterMark: 64 * 1024 });
    await reply.code(200).type('application/x-ndjson; charset=utf-8').send(body);
  }

  /**
   * The lines as NDJSON. A failure once the answer has begun can only cut it
   * short: it is logged with the position of the last line sent, for the
   * client to resume from, and the answer is marked failed.
   */
  private async *ndjson(first: IteratorResult<ReplayLine>, rest: AsyncIterator<ReplayLine>, reply: FastifyReply): AsyncIterable<string> {
    let last: string | undefined;
    try {
      for (let next = first; !next.done; next = await rest.next()) {
        yield `${JSON.stringify(next.value)}\n`;
        last = next.value.position;
      }
    } catch (error) {
      markAnswerFailed(reply);
      this.logger.error(
        `replay ${reply.request.id} failed after ${last === undefined ? 'no line' : `the line at position ${last}`}: ${(error as Error).message}`,
      );
      throw error;
    }
  }
}
