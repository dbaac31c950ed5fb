import type { FastifyReply } from 'fastify';
import { DATA_ANSWER_HEADERS, setSecurityHeaders } from './security-headers.hook';

/** Just enough of a reply to record what is set on it. */
function fakeReply(initial: Record<string, string> = {}): { reply: FastifyReply; headers: Map<string, string> } {
  const headers = new Map(Object.entries(initial));
  const reply = {
    header: (name: string, value: string) => headers.set(name, value) && reply,
    hasHeader: (name: string) => headers.has(name),
    getHeader: (name: string) => headers.get(name),
    removeHeader: (name: string) => headers.delete(name) && reply,
  };
  return { reply: reply as unknown as FastifyReply, headers };
}

describe('security headers', () => {
  it('sets on a data answer exactly the headers an answer written by hand carries', () => {
    const { reply, headers } = fakeReply({ 'content-type': 'application/json', 'x-powered-by': 'x' });
    setSecurityHeaders(reply);
    headers.delete('content-type');
    expect(Object.fromEntries(headers)).toEqual(Object.fromEntries(DATA_ANSWER_HEADERS));
  });

  it("keeps a route's own cache policy, and leaves a page free of the data policy", () => {
    const { reply, headers } = fakeReply({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'public, max-age=60' });
    setSecurityHeaders(reply);
    expect(headers.get('cache-control')).toBe('public, max-age=60');
    expect(headers.has('content-security-policy')).toBe(false);
  });
});
