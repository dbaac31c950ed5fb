import { BadRequestException, Controller, Get, Headers, Inject, Param, Query, Res, ServiceUnavailableException, applyDecorators } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { EVENT_STORE, EventStore, isPastHead } from '@visitorbase/event-store';
import { APP_CONFIG, AppConfig } from '@visitorbase/platform/config';
import { Environment } from '@visitorbase/platform/http/environment.decorator';
import { readQuery } from '@visitorbase/platform/http/query-string';
import { ApiV2Answers, ERROR_SCHEMA, PROFILE_SCHEMA } from '../../openapi';
import { ProjectionWatcher } from '../../projection/projection-watcher';
import { CONSISTENCY_TOKEN_HEADER, parseConsistencyToken } from './consistency-token';
import { GetUserQuery } from './get-user.query';

const USER_ID_DESCRIPTION = 'The unique identifier you have set for the visitor with the POST request above or by calling `setUserId` with our SDKs';

/** What both forms of the GET document: the seed's summary and answers, and the consistency token. */
function ProfileAnswers(badRequest: string): MethodDecorator {
  return applyDecorators(
    ApiOperation({ summary: 'Get events and attributes of a visitor', description: 'Fetch all events and attributes associated with a given visitor' }),
    ApiHeader({
      name: 'X-Consistency-Token',
      required: false,
      description: 'The token of a 202 answer: the GET waits (boundedly) until the projection has that write',
    }),
    ApiResponse({ status: 200, description: 'The aggregated profile', schema: PROFILE_SCHEMA }),
    ApiResponse({
      status: 404,
      description: 'You may receive a 404 if you request this resource right after creating it',
      content: { 'text/plain': { schema: { type: 'string' }, example: 'Not Found' } },
    }),
    ApiResponse({ status: 400, description: badRequest, schema: ERROR_SCHEMA }),
    ApiV2Answers('The read model is unavailable, or the projection did not reach the write of the consistency token in time'),
  );
}

@ApiTags('v2 API')
@ApiSecurity('ApiKey')
@Controller('v2/users')
export class GetUserController {
  constructor(
    private readonly queries: QueryBus,
    private readonly projection: ProjectionWatcher,
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The read model keeps each body serialized, so it is sent as it is. Until
   * the projection has the visitor the answer is the seed's plain 404 — unless
   * the client sends the X-Consistency-Token of its write, in which case the
   * answer waits (boundedly) for the projection to pass that write.
   */
  @Get(':userId')
  @ApiParam({ name: 'userId', description: `${USER_ID_DESCRIPTION} (percent-encoded)` })
  @ProfileAnswers('A userId that is not valid percent-encoded UTF-8, or a consistency token that is malformed or past the end of the event log')
  async get(
    @Environment() environment: string,
    @Param('userId') userId: string,
    @Headers(CONSISTENCY_TOKEN_HEADER) token: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.answer(environment, userId, token, reply);
  }

  /**
   * The same, with the userId in the query string, where the seed's table of
   * parameters puts it: `GET /v2/users?userId=…`. A client that followed the
   * table would otherwise get a 404, which the seed tells it to read as "not
   * projected yet", and wait for ever.
   */
  @Get()
  @ApiQuery({ name: 'userId', required: true, schema: { type: 'string', minLength: 1 }, description: USER_ID_DESCRIPTION })
  @ProfileAnswers('No userId, an empty or repeated one, another parameter, or a query string that is not valid percent-encoded UTF-8; or a consistency token that is malformed or past the end of the event log')
  async getByQuery(
    @Environment() environment: string,
    @Query() query: Record<string, unknown>,
    @Headers(CONSISTENCY_TOKEN_HEADER) token: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { values, problems } = readQuery(query, ['userId'], reply.request.raw.url ?? '');
    const { userId } = values;
    if (query.userId === undefined) problems.push('userId is required: GET /v2/users/:userId or /v2/users?userId=');
    else if (userId === '') problems.push('userId must not be empty');
    if (userId === undefined || problems.length > 0) throw new BadRequestException(problems);
    await this.answer(environment, userId, token, reply);
  }

  private async answer(environment: string, userId: string, token: string | undefined, reply: FastifyReply): Promise<void> {
    if (token !== undefined) {
      const position = parseConsistencyToken(token);
      if (position === undefined) {
        throw new BadRequestException([`${CONSISTENCY_TOKEN_HEADER} must be a token from the header of a 202 response`]);
      }
      if (!(await this.projection.waitFor(position, this.config.consistencyTimeoutMs))) {
        // A token past the end of the log was not issued by it (another deployment's, or made up):
        // a 503 would ask for retries that could never succeed. Looked at only here, off the path
        // of the GETs the projection answers in time.
        const head = await this.events.headPosition();
        if (isPastHead(position, head)) {
          throw new BadRequestException([`${CONSISTENCY_TOKEN_HEADER} is past the end of this service's event log: it was not issued here`]);
        }
        reply.header('retry-after', '1');
        throw new ServiceUnavailableException(
          `The projection has not reached this write within ${this.config.consistencyTimeoutMs} ms; retry`,
        );
      }
    }
    const body = await this.queries.execute(new GetUserQuery(environment, userId));
    if (body === undefined) {
      await reply.code(404).type('text/plain; charset=utf-8').send('Not Found');
      return;
    }
    await reply.code(200).type('application/json; charset=utf-8').send(body);
  }
}
