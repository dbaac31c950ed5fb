import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { LIMITS } from './domain/limits';

/** The seed's example visitor, as the OpenAPI document shows it. */
export const SEED_PROFILE_EXAMPLE = {
  id: 'a926111b-fa62-49f7-8666-2c94ca8b18fc',
  createdAt: 1612739790947,
  attributes: { plan: 'enterprise', completed_flow: false },
  events: [{ event: 'Clicked Signup', count: 1, createdAt: 1612739790947, updatedAt: 1612739912314 }],
};

export const UPSERT_BODY_SCHEMA = {
  type: 'object',
  required: ['userId'],
  additionalProperties: false,
  properties: {
    userId: {
      type: 'string',
      minLength: 1,
      maxLength: LIMITS.userIdLength,
      description:
        'Unique identifier for your reference. You can use this identifier to GET this visitor. This should also correspond to the userId you set with our SDKs',
    },
    events: {
      type: 'array',
      nullable: true,
      maxItems: LIMITS.eventsPerRequest,
      description: 'An array of event objects',
      items: {
        type: 'object',
        required: ['event'],
        additionalProperties: false,
        properties: {
          event: { type: 'string', minLength: 1, maxLength: LIMITS.eventNameLength },
          timestamp: {
            type: 'integer',
            nullable: true,
            minimum: 0,
            maximum: LIMITS.maxTimestamp,
            description: 'unix timestamp (milliseconds); defaults to when the request was received',
          },
        },
      },
    },
    attributes: {
      type: 'object',
      nullable: true,
      maxProperties: LIMITS.attributesPerRequest,
      description: '{attributeName: attributeValue}. attributeValue must be a string, int, or bool',
      additionalProperties: {
        oneOf: [
          { type: 'string', maxLength: LIMITS.attributeStringLength },
          { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
          { type: 'boolean' },
        ],
      },
    },
    emailAddress: {
      type: 'string',
      nullable: true,
      format: 'email',
      maxLength: LIMITS.emailLength,
      description: 'Email address for this visitor. Like every optional field, null counts as absent.',
    },
  },
  example: {
    userId: 'a926111b-fa62-49f7-8666-2c94ca8b18fc',
    attributes: { plan: 'enterprise', completed_flow: false },
    events: [{ event: 'Clicked Signup', timestamp: 1612739790947 }],
    emailAddress: 'someone@example.com',
  },
};

export const PROFILE_SCHEMA = {
  type: 'object',
  required: ['id', 'createdAt', 'attributes', 'events'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    createdAt: { type: 'integer', description: 'milliseconds at which the first upsert was recorded' },
    attributes: { type: 'object', additionalProperties: { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'boolean' }] } },
    events: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          event: { type: 'string' },
          count: { type: 'integer' },
          createdAt: { type: 'integer', description: 'first instance of event' },
          updatedAt: { type: 'integer', description: 'most recent instance of event' },
        },
      },
    },
    emailAddress: { type: 'string', description: 'present once one was set' },
  },
  example: SEED_PROFILE_EXAMPLE,
};

export const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: {
      description: 'a list of problems for a 400; one sentence for any other status',
      oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    },
  },
};

const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } };

/**
 * What every route under /v2 may answer besides its own: no valid key, over
 * the key's rate limit, a store that cannot be reached. `unavailable` says
 * which store (and anything else that makes this route answer 503).
 */
export function ApiV2Answers(unavailable: string): MethodDecorator {
  return applyDecorators(
    ApiResponse({ status: 401, description: 'Missing or unknown API key', schema: ERROR_SCHEMA }),
    ApiResponse({
      status: 429,
      description: 'This API key is over its rate limit (RATE_LIMIT_PER_SECOND)',
      schema: ERROR_SCHEMA,
      headers: RETRY_AFTER,
    }),
    ApiResponse({ status: 503, description: `${unavailable}; retry`, schema: ERROR_SCHEMA, headers: RETRY_AFTER }),
  );
}
