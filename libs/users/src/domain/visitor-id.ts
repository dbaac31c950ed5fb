import { createHash } from 'node:crypto';

/** Namespace of visitor ids (a UUID of our own, fixed forever). */
const VISITOR_NAMESPACE = Buffer.from('6f1b7c1e9a8d4e2fb3c05d7a2e94c811', 'hex');
/** Namespace of the event ids of requests sent with an Idempotency-Key. */
const IDEMPOTENT_EVENT_NAMESPACE = Buffer.from('0c5e8f3a2b7d4c91a6e4f2d8b1c3a957', 'hex');

/** A name-based UUID (RFC 9562 version 5): the same name always gives the same id. */
function nameBasedUuid(namespace: Buffer, name: string): string {
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The public `id` of a visitor: a name-based UUID of (environment, userId).
 * Derived, never stored randomness, so it survives any rebuild of the read
 * model and is the same on every backend.
 */
export function visitorId(environment: string, userId: string): string {
  return nameBasedUuid(VISITOR_NAMESPACE, `${environment}\u0000${userId}`);
}

/**
 * The id of the `index`th event of a request sent with an Idempotency-Key:
 * a retry of that request carries the same ids, and the event store stores
 * it once.
 */
export function idempotentEventId(environment: string, userId: string, key: string, index: number): string {
  return nameBasedUuid(IDEMPOTENT_EVENT_NAMESPACE, `${environment}\u0000${userId}\u0000${key}\u0000${index}`);
}
