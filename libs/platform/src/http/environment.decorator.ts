import { createParamDecorator, ExecutionContext } from '@nestjs/common';

/** Where the API-key hook leaves the caller's environment on the request. */
export const ENVIRONMENT_PROPERTY = 'visitorbaseEnvironment';

/** Where it leaves which key of the ring authenticated it. */
export const KEY_ID_PROPERTY = 'visitorbaseKeyId';

export interface AuthenticatedRequest {
  [ENVIRONMENT_PROPERTY]?: string;
  [KEY_ID_PROPERTY]?: number;
}

/** The environment of the API key that authenticated the request. */
export const Environment = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const environment = ctx.switchToHttp().getRequest<AuthenticatedRequest>()[ENVIRONMENT_PROPERTY];
  // The hook answers 401 before any handler under /v2 runs; reaching here without one is a wiring bug.
  if (environment === undefined) throw new Error('request reached a handler without an authenticated environment');
  return environment;
});
