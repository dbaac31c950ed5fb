import { Inject, Injectable, Logger } from '@nestjs/common';
import { EVENT_STORE, EventStore, Position, RecordedEvent } from '@visitorbase/event-store';
import { READ_MODEL, ReadModel } from '@visitorbase/read-model';
import { VISITOR_STREAM_PREFIX } from '../domain/visitor-stream';
import { VisitorFact } from '../domain/events';
import { toFact } from './to-fact';

const INITIAL_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;

/**
 * Follows the visitor streams of the log from the read model's checkpoint and
 * folds each page of events into the read model together with the new
 * checkpoint. After any failure it resubscribes from the last checkpoint it
 * wrote, with exponential backoff.
 */
@Injectable()
export class Projector {
  private readonly logger = new Logger('Projector');
  private abort?: AbortController;
  private loop?: Promise<void>;
  private lastApplied?: Position;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODEL) private readonly readModel: ReadModel,
  ) {}

  get running(): boolean {
    return this.loop !== undefined;
  }

  /** Position of the last event this projector applied, if any. */
  get position(): Position | undefined {
    return this.lastApplied;
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let backoff = INITIAL_BACKOFF_MS;
    while (!signal.aborted) {
      try {
        const after = await this.readModel.getCheckpoint();
        this.lastApplied = after;
        for await (const page of this.store.subscribeToAll({ after, streamPrefix: VISITOR_STREAM_PREFIX, signal })) {
          await this.applyPage(page);
          backoff = INITIAL_BACKOFF_MS;
          if (signal.aborted) break;
        }
      } catch (error) {
        if (signal.aborted) break;
        this.logger.warn(`projection failed (${(error as Error).message}); resubscribing from the checkpoint in ${backoff} ms`);
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private async applyPage(page: readonly RecordedEvent[]): Promise<void> {
    if (page.length === 0) return;
    const facts = page.map(toFact).filter((fact): fact is VisitorFact => fact !== undefined);
    const checkpoint = page[page.length - 1].position;
    await this.readModel.apply(facts, checkpoint);
    this.lastApplied = checkpoint;
  }
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
