import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { errorBody } from './error-body';
import { DATA_ANSWER_HEADERS } from './security-headers.hook';

type ClientError = Error & { code?: string };
type ServerSocket = Socket & { _httpMessage?: { headersSent?: boolean } };

const SECURITY_HEADERS = DATA_ANSWER_HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join('');

/**
 * Answers bytes that are not an HTTP request Node can parse (headers over
 * 16 KiB, malformed framing, a request that took too long to arrive). Unlike
 * Fastify's default answer, this one says `Connection: close`: the socket is
 * destroyed right after, and a keep-alive client that was not told so would
 * send its next request on it and see that request fail too. The body has
 * the API's error shape, and the headers every other answer has. Returns the
 * status answered, if any, for the caller to log and count.
 */
export function clientErrorHandler(error: ClientError, socket: ServerSocket): number | undefined {
  if (error.code === 'ECONNRESET' || socket.destroyed) return undefined;
  const [status, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request line and headers exceed 16 KiB']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request did not arrive in time']
        : [400, 'The request is not well-formed HTTP'];
  // Once an answer to this connection has begun, nothing more can be written on it.
  const answering = socket.writable && !socket._httpMessage?.headersSent;
  if (answering) {
    const body = errorBody(status, message);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Connection: close\r\n' +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        SECURITY_HEADERS +
        '\r\n' +
        body,
    );
  }
  socket.destroy(error);
  return answering ? status : undefined;
}
