import { STATUS_CODES } from 'node:http';

/**
 * The body of every error answer: Nest's `{statusCode, error, message}`. A
 * 400 always lists its problems, one or many, so that a client reads
 * `message` one way whatever the problem was.
 */
export function errorBody(status: number, message: unknown): string {
  const said = status === 400 && !Array.isArray(message) ? [message] : message;
  return JSON.stringify({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message: said });
}
