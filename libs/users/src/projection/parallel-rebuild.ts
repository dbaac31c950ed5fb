import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EventStore, Position, comparePositions } from '@visitorbase/event-store';
import { ReadModelView } from '@visitorbase/read-model';
import { MAX_CACHED_PROFILES, RebuildOptions, RebuildProgress, RebuildResult, rebuildReadModel } from './rebuild';

/**
 * How a worker thread opens the stores to fold from and into, since store
 * objects cannot cross threads: `module` (an absolute path) exports
 * `openRebuildStores(args)`, which returns an `OpenedRebuildStores`. `args`
 * must survive `postMessage`.
 */
export interface RebuildStoresSource {
  readonly module: string;
  readonly args: unknown;
}

/** What `openRebuildStores` gives a worker: the same stores its caller rebuilds with, opened again. */
export interface OpenedRebuildStores {
  readonly events: EventStore;
  readonly target: ReadModelView;
  close(): Promise<void>;
}

export interface ParallelRebuildOptions extends Omit<RebuildOptions, 'partition' | 'upTo'> {
  /**
   * Shares of the streams folded at once: one on the caller's thread, each
   * other in a worker thread of its own. 1 is `rebuildReadModel`.
   */
  readonly workers: number;
  /** How each worker opens the stores. */
  readonly stores: RebuildStoresSource;
}

/**
 * `rebuildReadModel` on several cores. The streams are split into
 * `workers` shares (`StreamPartition`); the caller's thread and a worker
 * thread per other share each read only their share of the log (inside the
 * query, on SQLite), fold it and save its visitors' profiles, all up to the
 * head of the log at the time of the call.
 * Once every share is saved, the checkpoint (the last visitor event folded
 * by any of them) is recorded here, once. Until then it stays where it was:
 * a rebuild interrupted or failed in any share resumes from there, and the
 * profiles already saved skip what they hold.
 *
 * Memory: each share keeps at most its part of `maxCachedProfiles`.
 * Worth it where reading the log is local and costs CPU (the SQLite store);
 * against a server each worker would read the whole log to filter it.
 */
export async function rebuildInParallel(
  store: EventStore,
  readModel: ReadModelView,
  options: ParallelRebuildOptions,
): Promise<RebuildResult> {
  const { workers: count, stores, signal, onProgress, ...rest } = options;
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`workers must be a positive integer, got ${count}`);
  if (count === 1) return rebuildReadModel(store, readModel, { ...rest, signal, onProgress });
  const upTo = await store.headPosition();
  const after = await readModel.getCheckpoint();
  if (upTo === undefined || (after !== undefined && comparePositions(after, upTo) >= 0)) return { events: 0, facts: 0 };

  const maxCachedProfiles = Math.max(1, Math.ceil((rest.maxCachedProfiles ?? MAX_CACHED_PROFILES) / count));
  const progress: Array<RebuildProgress | undefined> = new Array(count).fill(undefined);
  const progressOf = (index: number) => (p: RebuildProgress) => {
    progress[index] = p;
    onProgress?.(combined(progress));
  };
  // Share 0 is folded here, with the stores already open; the others each in a worker thread.
  const here = new AbortController();
  const shares: Share[] = [
    {
      result: rebuildReadModel(store, readModel, {
        ...rest,
        maxCachedProfiles,
        partition: { index: 0, count },
        upTo,
        signal: here.signal,
        onProgress: progressOf(0),
      }),
      abort: () => here.abort(),
    },
  ];
  for (let index = 1; index < count; index++) {
    shares.push(runWorker({ stores, partition: { index, count }, upTo, options: { ...rest, maxCachedProfiles } }, progressOf(index)));
  }
  const abortAll = () => shares.forEach((share) => share.abort());
  signal?.addEventListener('abort', abortAll, { once: true });
  if (signal?.aborted) abortAll();
  try {
    const outcomes = await Promise.allSettled(
      shares.map((share) =>
        share.result.catch((error: unknown) => {
          // One share failed: stop the others (they save what they folded) and report it.
          abortAll();
          throw error;
        }),
      ),
    );
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const results = (outcomes as Array<PromiseFulfilledResult<RebuildResult>>).map((outcome) => outcome.value);
    const events = results.reduce((sum, r) => sum + r.events, 0);
    const facts = results.reduce((sum, r) => sum + r.facts, 0);
    if (signal?.aborted) return { events, facts };
    // The last visitor event folded, as one thread would record it.
    const last = results.reduce<Position | undefined>(
      (max, r) => (r.position !== undefined && (max === undefined || comparePositions(r.position, max) > 0) ? r.position : max),
      undefined,
    );
    if (last === undefined) return { events, facts };
    await readModel.saveProfiles([], last);
    return { events, facts, position: last };
  } finally {
    signal?.removeEventListener('abort', abortAll);
  }
}

interface Share {
  readonly result: Promise<RebuildResult>;
  abort(): void;
}

/** What the workers have done together: every event they read, and the least far of their positions. */
function combined(progress: ReadonlyArray<RebuildProgress | undefined>): RebuildProgress {
  let events = 0;
  let position: Position | undefined;
  for (const p of progress) {
    if (p === undefined) continue;
    events += p.events;
    if (position === undefined || comparePositions(p.position, position) < 0) position = p.position;
  }
  return { events, position: position! };
}

/** What a worker is given (`workerData`). */
export interface WorkerInput {
  readonly stores: RebuildStoresSource;
  readonly partition: { readonly index: number; readonly count: number };
  readonly upTo: Position;
  readonly options: Omit<RebuildOptions, 'partition' | 'upTo' | 'signal' | 'onProgress'>;
}

/** What a worker says: progress after each page, then its result or its failure. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly progress: RebuildProgress }
  | { readonly type: 'done'; readonly result: RebuildResult }
  | { readonly type: 'failed'; readonly message: string; readonly stack?: string };

const WORKER_SCRIPT = join(__dirname, 'rebuild-worker.js');
/**
 * A worker's young generation. Each page of events is garbage once folded,
 * so a small one is enough, and it keeps the process small: over 1 000 000
 * events in two shares, 8 MB rebuilt at 435 000 to 486 000 events/s in a
 * peak resident set of 232 to 246 MB, V8's default at 337 000 to 422 000 in
 * 295 to 302 MB, and 4 MB at 384 000 to 435 000 in 287 to 291 MB.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

function runWorker(input: WorkerInput, onProgress: (progress: RebuildProgress) => void): Share {
  const worker = new Worker(WORKER_SCRIPT, { workerData: input, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
  let outcome: { result: RebuildResult } | { error: Error } | undefined;
  const result = new Promise<RebuildResult>((resolve, reject) => {
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') onProgress(message.progress);
      else if (message.type === 'done') outcome = { result: message.result };
      else outcome = { error: Object.assign(new Error(message.message), { stack: message.stack }) };
    });
    worker.on('error', (error) => (outcome ??= { error }));
    worker.on('exit', (code) => {
      if (outcome === undefined) reject(new Error(`rebuild worker ${input.partition.index} exited with code ${code} before it finished`));
      else if ('error' in outcome) reject(outcome.error);
      else resolve(outcome.result);
    });
  });
  return { result, abort: () => worker.postMessage('abort') };
}
