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
  | { readonly type: 'position'; readonly position: Position | undefined }
  | ThreadLogLine
  | { readonly type: 'stopped' };

/** What the projector thread is told. */
export type ProjectorThreadCommand = 'appended' | 'stop';

const WORKER_SCRIPT = join(__dirname, 'projector-worker.js');
/** Longest an orderly stop of the thread may take before it is terminated. */
const STOP_TIMEOUT_MS = 5_000;
const INITIAL_RESTART_MS = 100;
const MAX_RESTART_MS = 10_000;

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
 * - starts it again, with backoff, if the thread ever dies.
 */
export class ProjectorThread extends ProjectionRunner {
  private readonly logger = new Logger('Projector');
  private worker?: Worker;
  private started = false;
  private stopping?: Promise<void>;
  private lastPosition?: Position;
  private readonly waiters = new AppliedWaiters();
  /** Positions are published in the order the thread sent them. */
  private publishing: Promise<void> = Promise.resolve();
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

  get running(): boolean {
    return this.started && this.stopping === undefined;
  }

  get position(): Position | undefined {
    return this.lastPosition;
  }

  nextApplied(signal?: AbortSignal): Promise<void> {
    return this.waiters.next(signal);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.store instanceof SqliteEventStore) {
      this.stopAppended = this.store.onAppended(() => this.worker?.postMessage('appended' satisfies ProjectorThreadCommand));
    }
    this.spawn();
  }

  stop(): Promise<void> {
    if (!this.started) return Promise.resolve();
    return (this.stopping ??= this.stopThread());
  }

  private spawn(): void {
    const worker = new Worker(WORKER_SCRIPT, { workerData: this.input satisfies ProjectorThreadInput });
    this.worker = worker;
    worker.on('message', (message: ProjectorThreadMessage) => this.onMessage(message));
    worker.on('error', (error) => this.logger.error(`the projector thread failed: ${error.message}`, error.stack));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      if (this.stopping !== undefined) return;
      this.logger.error(`the projector thread exited (code ${code}); starting it again in ${this.restartMs} ms`);
      this.restartTimer = setTimeout(() => this.spawn(), this.restartMs);
      this.restartMs = Math.min(this.restartMs * 2, MAX_RESTART_MS);
    });
  }

  private onMessage(message: ProjectorThreadMessage): void {
    switch (message.type) {
      case 'position':
        this.restartMs = INITIAL_RESTART_MS;
        this.publishing = this.publishing.then(() => this.publish(message.position));
        return;
      case 'log':
        writeThreadLog(message, 'Projector');
        return;
      case 'stopped':
        return;
    }
  }

  private async publish(position: Position | undefined): Promise<void> {
    // Refreshes the active version this process's reads use (see SqliteReadModel.findProfileJson).
    await this.readModel.versions().catch(() => undefined);
    this.lastPosition = position;
    this.waiters.wakeAll();
  }

  private async stopThread(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.stopAppended?.();
    const worker = this.worker;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop' satisfies ProjectorThreadCommand);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
    if ((await Promise.race([exited, late])) === 'late') {
      this.logger.warn(`the projector thread did not stop within ${STOP_TIMEOUT_MS} ms; terminating it`);
      await worker.terminate();
    }
    clearTimeout(timer);
    await this.publishing;
  }
}
