import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Logger } from '@nestjs/common';
import { EventStore, Position, SqliteEventStore } from '@visitorbase/event-store';
import { ReadModel } from '@visitorbase/read-model';
import { AppliedWaiters, ProjectionRunner } from './projection-runner';
import { ThreadLogLine, writeThreadLog } from './thread-logging';

/** What the projector thread is given (`workerData`): the configuration to open the stores from (an `AppConfig`). */
export interface ProjectorThreadInput {
  readonly config: unknown;
}

/** What the projector thread says. */
export type ProjectorThreadMessage =
  /** `published`: applied to the active version; otherwise where it (re)subscribed from. */
  | { readonly type: 'position'; readonly position: Position | undefined; readonly published: boolean }
  | ThreadLogLine;

/** What the projector thread is told. */
export type ProjectorThreadCommand = 'appended' | 'stop';

const WORKER_SCRIPT = join(__dirname, 'projector-worker.js');
/** Longest an orderly stop of the thread may take before it is terminated. */
const STOP_TIMEOUT_MS = 5_000;
const INITIAL_RESTART_MS = 100;
const MAX_RESTART_MS = 10_000;
/** A thread that ran this long before it died counts as healthy: its successor starts after the initial delay. */
const HEALTHY_UPTIME_MS = 60_000;
/**
 * The thread's young generation: each page of events is garbage once
 * applied. With V8's default the service's peak resident set under ingest
 * was 240 MB; with 8 MB, 219 to 220 MB, at the same throughput.
 */
const YOUNG_GENERATION_MB = 8;

/**
 * The projector on a worker thread of its own, so that folding and writing
 * the read model never hold up the event loop that serves requests, and can
 * use another core. The thread opens its own connections to the stores from
 * the configuration and runs the same `Projector`. This side:
 * - tells it of each commit of appends through this process's SQLite event
 *   store, so it looks at once instead of at its next poll;
 * - learns its position, and looks up the active read-model version before
 *   publishing it, so that a read made for a consistency token reads the
 *   version the position was applied to, as with the projector in process;
 * - writes its log lines, which it sends here;
 * - starts it again, with backoff, if the thread dies; `running` is false
 *   until a new thread has subscribed, so health checks see the outage, and
 *   consistency-token waits fall back to polling the checkpoint meanwhile.
 */
export class ProjectorThread extends ProjectionRunner {
  private readonly logger = new Logger('Projector');
  private worker?: Worker;
  /** Whether the current thread has subscribed (it sent its first position). */
  private alive = false;
  private spawnedAt = 0;
  private lastPosition?: Position;
  private readonly waiters = new AppliedWaiters();
  /** The newest position the thread sent and not yet published; positions are published in order, the newest only. */
  private pending?: { position: Position | undefined };
  private publishing?: Promise<void>;
  private stopAppended?: () => void;
  private restartMs = INITIAL_RESTART_MS;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    private readonly input: ProjectorThreadInput,
    private readonly store: EventStore,
    private readonly readModel: ReadModel,
  ) {
    super();
  }

  /** Only while a thread is up and has subscribed: not while one starts, or waits to be started again. */
  get running(): boolean {
    return this.alive && !this.isStopping;
  }

  get position(): Position | undefined {
    return this.lastPosition;
  }

  nextApplied(signal?: AbortSignal): Promise<void> {
    return this.waiters.next(signal);
  }

  protected override checkStartable(): void {
    if (!existsSync(WORKER_SCRIPT)) {
      throw new Error(`${WORKER_SCRIPT} is missing: the projector thread runs from the build (npm run build); PROJECTOR_THREAD=false runs the projector on the event loop instead`);
    }
  }

  protected begin(): void {
    if (this.store instanceof SqliteEventStore) {
      this.stopAppended = this.store.onAppended(() => this.worker?.postMessage('appended' satisfies ProjectorThreadCommand));
    }
    this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(WORKER_SCRIPT, {
      workerData: this.input satisfies ProjectorThreadInput,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    this.worker = worker;
    this.spawnedAt = Date.now();
    worker.on('message', (message: ProjectorThreadMessage) => this.onMessage(message));
    worker.on('error', (error) => this.logger.error(`the projector thread failed: ${error.message}`, error.stack));
    worker.on('exit', (code) => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.alive = false;
      }
      // Waits for a position go back to polling the checkpoint now that no thread here will wake them.
      this.waiters.wakeAll();
      if (this.isStopping) return;
      // A thread that ran a good while, even idle, was healthy: its successor starts without delay to speak of.
      if (Date.now() - this.spawnedAt >= HEALTHY_UPTIME_MS) this.restartMs = INITIAL_RESTART_MS;
      this.logger.error(`the projector thread exited (code ${code}); starting it again in ${this.restartMs} ms`);
      this.restartTimer = setTimeout(() => this.spawn(), this.restartMs);
      this.restartMs = Math.min(this.restartMs * 2, MAX_RESTART_MS);
    });
  }

  private onMessage(message: ProjectorThreadMessage): void {
    switch (message.type) {
      case 'position':
        this.alive = true;
        // Only a thread that gets pages through has recovered; one that dies right after subscribing keeps backing off.
        if (message.published) this.restartMs = INITIAL_RESTART_MS;
        this.pending = { position: message.position };
        this.publishing ??= this.publishPending();
        return;
      case 'log':
        writeThreadLog(message, 'Projector');
        return;
    }
  }

  private async publishPending(): Promise<void> {
    try {
      while (this.pending !== undefined) {
        const { position } = this.pending;
        this.pending = undefined;
        // Refreshes the active version this process's reads use (see SqliteReadModel.findProfileJson).
        await this.readModel.versions().catch(() => undefined);
        this.lastPosition = position;
        this.waiters.wakeAll();
      }
    } finally {
      this.publishing = undefined;
    }
  }

  protected async end(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.stopAppended?.();
    const worker = this.worker;
    if (worker !== undefined) {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop' satisfies ProjectorThreadCommand);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
      if ((await Promise.race([exited, late])) === 'late') {
        this.logger.warn(`the projector thread did not stop within ${STOP_TIMEOUT_MS} ms; terminating it`);
        await worker.terminate();
      }
      clearTimeout(timer);
    }
    await this.publishing;
    this.alive = false;
    this.waiters.wakeAll();
    this.restartMs = INITIAL_RESTART_MS;
  }
}
