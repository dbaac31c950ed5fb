import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Logger } from '@nestjs/common';
import { EventStore, Position, comparePositions, formatPosition } from '@visitorbase/event-store';
import { ReadModelView } from '@visitorbase/read-model';
import { MAX_CACHED_PROFILES, RebuildOptions, RebuildProgress, RebuildResult, rebuildReadModel } from './rebuild';
import { ThreadLogLine, writeThreadLog } from './thread-logging';

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
 * Shares save their profiles without the checkpoint; it is recorded here, as
 * far as every share has saved (`ShareTally`), and at the end at the last
 * visitor event any share folded. A rebuild interrupted or failed in any
 * share resumes from the checkpoint recorded last, and the profiles already
 * saved past it skip what they hold.
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
  const tally = new ShareTally(count, upTo, readModel, onProgress);
  const shares: Share[] = [];
  let aborting = false;
  const abortAll = () => {
    aborting = true;
    shares.forEach((share) => share.abort());
  };
  signal?.addEventListener('abort', abortAll, { once: true });
  try {
    // Share 0 is folded here, with the stores already open; the others each in a worker thread.
    const here = new AbortController();
    shares.push({
      result: rebuildReadModel(store, readModel, {
        ...rest,
        maxCachedProfiles,
        partition: { index: 0, count },
        upTo,
        signal: here.signal,
        onProgress: (p) => tally.progress(0, p),
      }),
      abort: () => here.abort(),
    });
    for (let index = 1; index < count; index++) {
      shares.push(runWorker({ stores, partition: { index, count }, upTo, options: { ...rest, maxCachedProfiles } }, (p) => tally.progress(index, p)));
    }
  } catch (error) {
    // A worker that could not start: stop the shares already running, then report it.
    abortAll();
    await Promise.allSettled(shares.map((share) => share.result));
    signal?.removeEventListener('abort', abortAll);
    throw error;
  }
  if (signal?.aborted) abortAll();
  try {
    const outcomes = await Promise.allSettled(
      shares.map((share, index) =>
        share.result.then(
          (result) => {
            // Not stopped early: it folded and saved every event of its share up to upTo.
            tally.finished(index, result, !aborting);
            return result;
          },
          (error: unknown) => {
            // One share failed: stop the others (they save what they folded) and report it.
            abortAll();
            throw error;
          },
        ),
      ),
    );
    await tally.recorded();
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const results = (outcomes as Array<PromiseFulfilledResult<RebuildResult>>).map((outcome) => outcome.value);
    const events = results.reduce((sum, r) => sum + r.events, 0);
    const facts = results.reduce((sum, r) => sum + r.facts, 0);
    if (signal?.aborted) {
      // Every share saved what it had folded before it stopped: resume from as far as all of them got.
      tally.recordStopped();
      await tally.recorded();
      return { events, facts };
    }
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

/**
 * Where the shares stand together. Progress is reported once every share
 * has reported (events: all of theirs; position: the least far), so it never
 * goes back. The checkpoint is recorded as the shares save: every share has
 * saved all of its events up to the position it had read when it last saved
 * (a share that ran to the end, up to `upTo`; one stopped early, up to its
 * last event), so the least of those positions is a checkpoint a resumed
 * rebuild may start from; shares that have not saved yet hold it where it
 * was. Once all have finished, the caller records the final checkpoint.
 */
class ShareTally {
  private readonly logger = new Logger('Rebuild');
  private readonly latest: Array<RebuildProgress | undefined>;
  private readonly done: Array<{ readonly result: RebuildResult; readonly complete: boolean } | undefined>;
  private recordedAt?: Position;
  private recording: Promise<void> = Promise.resolve();

  constructor(
    count: number,
    private readonly upTo: Position,
    private readonly readModel: ReadModelView,
    private readonly onProgress?: (progress: RebuildProgress) => void,
  ) {
    this.latest = new Array(count).fill(undefined);
    this.done = new Array(count).fill(undefined);
  }

  progress(index: number, progress: RebuildProgress): void {
    const before = this.latest[index]?.saved;
    this.latest[index] = progress;
    this.report();
    if (progress.saved !== undefined && (before === undefined || comparePositions(progress.saved, before) !== 0)) this.record();
  }

  finished(index: number, result: RebuildResult, complete: boolean): void {
    this.done[index] = { result, complete };
    this.report();
    this.record();
  }

  /**
   * Resolves once the checkpoints asked for are written or have failed. A
   * failed one is logged and left behind: the next one, or the final one the
   * caller writes, supersedes it, and a rebuild cut short resumes from an
   * earlier checkpoint, which is safe.
   */
  recorded(): Promise<void> {
    return this.recording;
  }

  private report(): void {
    if (this.onProgress === undefined) return;
    let events = 0;
    let least: Position | undefined;
    let most: Position | undefined;
    for (let i = 0; i < this.latest.length; i++) {
      const p = this.latest[i];
      if (p === undefined) {
        if (this.done[i] === undefined) return;
        continue;
      }
      events += p.events;
      if (this.done[i] === undefined && (least === undefined || comparePositions(p.position, least) < 0)) least = p.position;
      if (most === undefined || comparePositions(p.position, most) > 0) most = p.position;
    }
    const position = least ?? most;
    if (position !== undefined) this.onProgress({ events, position });
  }

  /** After the shares were stopped: records as far as every one of them saved. */
  recordStopped(): void {
    this.record(true);
  }

  private record(stopped = false): void {
    // All finished: the caller records the last visitor event folded, as one thread would.
    if (!stopped && this.done.every((share) => share !== undefined)) return;
    let least: Position | undefined;
    for (let i = 0; i < this.latest.length; i++) {
      const done = this.done[i];
      const bound = done ? (done.complete ? this.upTo : done.result.position) : this.latest[i]?.saved;
      if (bound === undefined) {
        // A share stopped before it folded anything holds nothing back; one that has not saved yet holds everything.
        if (done) continue;
        return;
      }
      if (least === undefined || comparePositions(bound, least) < 0) least = bound;
    }
    if (least === undefined || (this.recordedAt !== undefined && comparePositions(least, this.recordedAt) <= 0)) return;
    const checkpoint = least;
    this.recordedAt = checkpoint;
    this.recording = this.recording.then(() =>
      this.readModel.saveProfiles([], checkpoint).catch((error: unknown) => {
        this.logger.warn(`could not record the checkpoint ${formatPosition(checkpoint)} (${(error as Error)?.message ?? String(error)}); a rebuild cut short would resume from an earlier one`);
      }),
    );
  }
}

/** What a worker is given (`workerData`). */
export interface WorkerInput {
  readonly stores: RebuildStoresSource;
  readonly partition: { readonly index: number; readonly count: number };
  readonly upTo: Position;
  readonly options: Omit<RebuildOptions, 'partition' | 'upTo' | 'signal' | 'onProgress'>;
}

/** What a worker says: progress after each page and its log lines, then its result or its failure. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly progress: RebuildProgress }
  | ThreadLogLine
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

/** How long a worker that has said it is done may take to exit before it is terminated. */
const EXIT_GRACE_MS = 5_000;

function runWorker(input: WorkerInput, onProgress: (progress: RebuildProgress) => void): Share {
  const worker = new Worker(WORKER_SCRIPT, { workerData: input, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
  const result = new Promise<RebuildResult>((resolve, reject) => {
    let error: Error | undefined;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') onProgress(message.progress);
      else if (message.type === 'log') writeThreadLog(message, 'Rebuild');
      else if (message.type === 'done') {
        // Its stores are closed: what it folded is saved. A client that keeps a handle open must not hold the rebuild up.
        resolve(message.result);
        setTimeout(() => void worker.terminate(), EXIT_GRACE_MS).unref();
      } else error = Object.assign(new Error(message.message), { stack: message.stack });
    });
    worker.on('error', (e) => (error ??= e));
    worker.on('exit', (code) => reject(error ?? new Error(`rebuild worker ${input.partition.index} exited with code ${code} before it finished`)));
  });
  return { result, abort: () => worker.postMessage('abort') };
}
