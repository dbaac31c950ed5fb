import { Position, formatPosition, parsePosition } from '@visitorbase/event-store';

export const CONSISTENCY_TOKEN_HEADER = 'x-consistency-token';

/**
 * The token is the append's position in the log. Clients treat it as opaque;
 * the `p` prefix leaves room to change the encoding later.
 */
export function consistencyToken(position: Position): string {
  return `p${formatPosition(position)}`;
}

export function parseConsistencyToken(token: string): Position | undefined {
  return token.startsWith('p') ? parsePosition(token.slice(1)) : undefined;
}
