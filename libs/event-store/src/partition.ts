/**
 * One of `count` disjoint shares of the log's streams, for reading the log
 * in parallel: every event of a stream is in the share
 * `streamPartition(stream, count)`, so each reader sees whole streams, and
 * the shares 0 to count - 1 together are the whole log.
 */
export interface StreamPartition {
  readonly index: number;
  readonly count: number;
}

/**
 * The share of `count` that `stream` belongs to: FNV-1a (32 bits) over the
 * name's UTF-16 code units, modulo `count`. A hash of the whole name, since
 * names chosen by customers often share their ends (`...@example.com`) or
 * their starts. Stable: stores evaluate it inside their queries.
 */
export function streamPartition(stream: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < stream.length; i++) {
    hash ^= stream.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** `partition` itself, once checked to be a share of a whole. */
export function checkPartition(partition: StreamPartition | undefined): StreamPartition | undefined {
  if (partition === undefined) return undefined;
  const { index, count } = partition;
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`partition must be { index, count } with 0 <= index < count, got ${JSON.stringify({ index, count })}`);
  }
  return partition;
}
