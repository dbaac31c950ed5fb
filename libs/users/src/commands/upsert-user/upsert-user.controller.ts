import { BadRequestException, Body, Controller, Header, HttpCode, Headers, Post, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Environment } from '@visitorbase/platform/http/environment.decorator';
import { StrictBodyPipe } from '@visitorbase/platform/validation/strict-body.pipe';
import { CONSISTENCY_TOKEN_HEADER, consistencyToken } from '../../queries/get-user/consistency-token';
import { ApiV2Answers, ERROR_SCHEMA, UPSERT_BODY_SCHEMA } from '../../openapi';
import { UpsertUserCommand } from './upsert-user.command';
import { UpsertUserDto } from './upsert-user.dto';

const IDEMPOTENCY_KEY_MAX = 255;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

@ApiTags('v2 API')
@ApiSecurity('ApiKey')
@Controller('v2/users')
export class UpsertUserController {
  constructor(private readonly commands: CommandBus) {}

  /**
   * 202 only once the events are durable in the event store. The token names
   * the append's position: a GET that sends it back waits for the projection
   * to pass it, so the writer reads its own write.
   */
  @Post()
  @ApiOperation({
    summary: 'Create/Upsert user with attributes and events',
    description:
      "Creates a visitor with the specified `userId`. If a visitor already exists with that `userId`, the visitor's data will be updated with the provided data in the body.",
  })
  @ApiBody({ schema: UPSERT_BODY_SCHEMA })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: `Any string of 1 to ${IDEMPOTENCY_KEY_MAX} visible ASCII characters. A request retried with the same key (for the same userId) is stored once and answered as the first was.`,
    schema: { type: 'string', minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX, pattern: '^[\\x21-\\x7e]+$' },
  })
  @ApiResponse({
    status: 202,
    description:
      'This request will be processed asynchronously. Making a GET request immediately after may result in a 404 (unless it sends the X-Consistency-Token of this answer). Making another POST request immediately after with the same `userId` is supported.',
    content: { 'text/plain': { schema: { type: 'string' }, example: 'Accepted' } },
    headers: {
      'X-Consistency-Token': {
        description: 'Send it with GET /v2/users/{userId} to read this write back',
        schema: { type: 'string' },
      },
    },
  })
  @ApiResponse({
    status: 400,
    description:
      'The body is not valid (the first problem of each field is listed, at most 100), not JSON, or not UTF-8; or the Idempotency-Key is malformed',
    schema: ERROR_SCHEMA,
  })
  @ApiResponse({ status: 409, description: 'The Idempotency-Key was used before for a different request', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 413, description: 'Body over 1 MiB', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 415, description: 'A content type other than application/json, or a Content-Encoding other than identity', schema: ERROR_SCHEMA })
  @ApiV2Answers('The event store is unavailable')
  @HttpCode(202)
  @Header('Content-Type', 'text/plain; charset=utf-8')
  async upsert(
    @Environment() environment: string,
    @Body(StrictBodyPipe) body: UpsertUserDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new BadRequestException([`Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX} visible ASCII characters`]);
    }
    const appended = await this.commands.execute(new UpsertUserCommand(environment, body, Date.now(), idempotencyKey));
    reply.header(CONSISTENCY_TOKEN_HEADER, consistencyToken(appended.position));
    return 'Accepted';
  }
}
