import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { EVENT_STORE, EventStore, Position, RecordedEvent, formatPosition, isPastHead } from '@visitorbase/event-store';
import { READ_MODEL, ReadModel, ReadModelView } from '@visitorbase/read-model';
import { VISITOR_STREAM_PREFIX } from '../domain/visitor-stream';
import { VisitorFact } from '../domain/events';
import { AppliedWaiters, ProjectionRunner } from './projection-runner';
import { AHEAD_OF_LOG_REMEDY } from './status';
import { toFact } from './to-fact';

export interface ProjectorOptions {
  /** Wait before the first resubscription after a failure; it doubles on each failure in a row. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export const PROJECTOR_OPTIONS = Symbol('ProjectorOptions');

/**
 * Follows the visitor streams of the log from the read model's checkpoint and
 * folds each page of events into the read model together with the new
 * checkpoint. After any failure, or a subscription that ends on its own, it
 * resubscribes from the last checkpoint it wrote, with exponential backoff.
 */
@Injectable()
export class Projector extends ProjectionRunner {
  private readonly logger = new Logger('Projector');
  private abort?: AbortController;
  private loop?: Promise<void>;
  private lastApplied?: Position;
  private readonly appliedWaiters = new AppliedWaiters();
  private readonly positionListeners = new Set<PositionListener>();
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODEL) private readonly readModel: ReadModel,
    @Optional() @Inject(PROJECTOR_OPTIONS) options: ProjectorOptions = {},
  ) {
    super();
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
  }

  get running(): boolean {
    return this.loop !== undefined;
  }

  /** Position of the last event this projector applied, if any. */
  get position(): Position | undefined {
    return this.lastApplied;
  }

  nextApplied(signal?: AbortSignal): Promise<void> {
    return this.appliedWaiters.next(signal);
  }

  /**
   * Calls `listener` with the position it follows from each time it
   * subscribes (`published` false), and with each position it publishes
   * (`published` true). Returns how to stop.
   */
  onPosition(listener: PositionListener): () => void {
    this.positionListeners.add(listener);
    return () => this.positionListeners.delete(listener);
  }

  protected begin(): void {
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  protected async end(): Promise<void> {
    try {
      this.abort?.abort();
      await this.loop;
    } finally {
      this.loop = undefined;
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    let backoff = this.initialBackoffMs;
    let resubscribing = false;
    while (!signal.aborted) {
      let reason: string;
      let following: number | undefined;
      try {
        // Follow one version of the read model: a rebuild may switch to another at any time.
        const { active } = await this.readModel.versions();
        following = active;
        const target = this.readModel.version(active);
        const after = await target.getCheckpoint();
        this.lastApplied = after;
        for (const listener of this.positionListeners) listener(after, false);
        // After a switch this checkpoint may already cover writes that readers wait for (the new
        // version was rebuilt past them) though no page of this projector published them.
        this.appliedWaiters.wakeAll();
        this.logger.log(
          `${resubscribing ? 'subscribing again' : 'following the visitor streams'} into read model version ${active} from ${describe(after)}`,
        );
        if (after !== undefined) {
          const head = await this.store.headPosition();
          if (isPastHead(after, head)) {
            this.logger.error(`the checkpoint ${formatPosition(after)} is past the head of the log (${head ? formatPosition(head) : 'empty'}): ${AHEAD_OF_LOG_REMEDY}`);
          }
        }
        let switchedTo: number | undefined;
        for await (const page of this.store.subscribeToAll({ after, streamPrefix: VISITOR_STREAM_PREFIX, signal })) {
          if (page.length === 0) continue;
          const checkpoint = await this.applyPage(target, page);
          backoff = this.initialBackoffMs;
          // A page that went into a version no longer active is not published: readers
          // (and the consistency token) read the active one, which gets it on resubscribing.
          switchedTo = await this.switchedFrom(active);
          if (switchedTo !== undefined) break;
          this.published(checkpoint);
          if (signal.aborted) break;
        }
        if (signal.aborted) break;
        if (switchedTo !== undefined) {
          // Not a failure: the new version has its own checkpoint, so follow it from there, now.
          this.logger.log(`read model switched from version ${active} to ${switchedTo}`);
          resubscribing = true;
          continue;
        }
        reason = 'the subscription ended';
      } catch (error) {
        if (signal.aborted) break;
        // Reads moved on while this loop waited for a page: a second rebuild may even have dropped
        // the version it followed, and the page failed on that. A switch, then, not a failure.
        const switchedTo = following === undefined ? undefined : await this.switchedFrom(following).catch(() => undefined);
        if (switchedTo !== undefined) {
          this.logger.log(`read model switched from version ${following} to ${switchedTo}`);
          resubscribing = true;
          continue;
        }
        reason = `projection failed (${(error as Error).message})`;
      }
      this.logger.warn(`${reason}; resubscribing from ${describe(this.lastApplied)} in ${backoff} ms`);
      resubscribing = true;
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, this.maxBackoffMs);
    }
  }

  private async switchedFrom(version: number): Promise<number | undefined> {
    const { active } = await this.readModel.versions();
    return active === version ? undefined : active;
  }

  private async applyPage(target: ReadModelView, page: readonly RecordedEvent[]): Promise<Position> {
    const facts = page.map(toFact).filter((fact): fact is VisitorFact => fact !== undefined);
    const checkpoint = page[page.length - 1].position;
    await target.apply(facts, checkpoint);
    return checkpoint;
  }

  private published(checkpoint: Position): void {
    this.lastApplied = checkpoint;
    for (const listener of this.positionListeners) listener(checkpoint, true);
    this.appliedWaiters.wakeAll();
  }
}

export type PositionListener = (position: Position | undefined, published: boolean) => void;

function describe(at: Position | undefined): string {
  return at === undefined ? 'the start of the log' : `the checkpoint ${formatPosition(at)}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
