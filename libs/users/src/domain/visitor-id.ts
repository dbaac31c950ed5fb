import { createHash } from 'node:crypto';

/** Namespace of visitor ids (a UUID of our own, fixed forever). */
const VISITOR_NAMESPACE = Buffer.from('6f1b7c1e9a8d4e2fb3c05d7a2e94c811', 'hex');

/**
 * The public `id` of a visitor: a name-based UUID (RFC 9562 version 5) of
 * (environment, userId). Derived, never stored randomness, so it survives any
 * rebuild of the read model and is the same on every backend.
 */
export function visitorId(environment: string, userId: string): string {
  const hash = createHash('sha1')
    .update(VISITOR_NAMESPACE)
    .update(`${environment}\u0000${userId}`, 'utf8')
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
