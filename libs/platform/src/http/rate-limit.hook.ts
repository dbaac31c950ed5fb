import type { FastifyInstance } from 'fastify';
import { AuthenticatedRequest, KEY_ID_PROPERTY } from './environment.decorator';
import { errorBody } from './error-body';

export interface RateLimit {
  /** Requests per second each API key may make, on average. */
  readonly perSecond: number;
  /** Requests a key may make at once after being idle. */
  readonly burst: number;
}

/**
 * One token bucket per key: it holds up to `burst` tokens, refills at
 * `perSecond`, and each request takes one. Memory is one entry per key the
 * ring has held, whatever the traffic.
 */
export class TokenBuckets {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** 0 when the request may go now; otherwise the seconds until it could. */
  take(key: number): number {
    const at = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burst, at };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((at - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = at;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.limit.perSecond;
  }
}

/**
 * Limits each API key to `limit`, answering `429` with `Retry-After` (whole
 * seconds) beyond it. Runs in `onRequest` after the key is authenticated and
 * before the body is read, so a throttled request costs no parsing; requests
 * without a valid key never reach it (they are 401 already).
 */
export function registerRateLimit(fastify: FastifyInstance, limit: RateLimit): void {
  const buckets = new TokenBuckets(limit);
  const message = `Rate limit exceeded: this API key may make ${limit.perSecond} requests per second (bursts of ${limit.burst}); retry after the number of seconds in the Retry-After header`;
  fastify.addHook('onRequest', (request, reply, done) => {
    const keyId = (request as unknown as AuthenticatedRequest)[KEY_ID_PROPERTY];
    if (keyId === undefined) return done();
    const wait = buckets.take(keyId);
    if (wait === 0) return done();
    reply
      .code(429)
      .header('retry-after', String(Math.max(1, Math.ceil(wait))))
      .type('application/json; charset=utf-8')
      .send(errorBody(429, message));
  });
}
