import { isEnvironmentName } from './environment';

/** Prefix of every visitor stream; the projector subscribes to it alone. */
export const VISITOR_STREAM_PREFIX = 'visitor-';

export interface VisitorKey {
  readonly environment: string;
  readonly userId: string;
}

/**
 * `visitor-<environment>-<userId>`. The environment never contains `-`, so
 * the first `-` after the prefix ends it, whatever the userId contains.
 */
export function visitorStream(key: VisitorKey): string {
  if (!isEnvironmentName(key.environment)) throw new Error(`invalid environment name ${JSON.stringify(key.environment)}`);
  return `${VISITOR_STREAM_PREFIX}${key.environment}-${key.userId}`;
}

export function parseVisitorStream(stream: string): VisitorKey | undefined {
  if (!stream.startsWith(VISITOR_STREAM_PREFIX)) return undefined;
  const rest = stream.slice(VISITOR_STREAM_PREFIX.length);
  const dash = rest.indexOf('-');
  if (dash <= 0) return undefined;
  const environment = rest.slice(0, dash);
  const userId = rest.slice(dash + 1);
  if (!isEnvironmentName(environment) || userId.length === 0) return undefined;
  return { environment, userId };
}
