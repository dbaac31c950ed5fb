import { once } from 'node:events';
import { Inject, Injectable } from '@nestjs/common';
import { Position, comparePositions } from '@visitorbase/event-store';
import { READ_MODEL, ReadModel } from '@visitorbase/read-model';
import { ProjectionRunner } from './projection-runner';

/** How often the read model's checkpoint is looked at when no projector runs in this process. */
const POLL_MS = 10;

/**
 * Tells when the read model has applied the log up to a position. The
 * in-process projector wakes waiters as soon as it applies a page; when the
 * projector runs elsewhere (its own process, in production) the read model's
 * checkpoint is polled.
 */
@Injectable()
export class ProjectionWatcher {
  constructor(
    @Inject(READ_MODEL) private readonly readModel: ReadModel,
    private readonly projector: ProjectionRunner,
  ) {}

  /** True once the projection has passed `target`; false if `timeoutMs` ran out first. */
  async waitFor(target: Position, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.reached(target)) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), this.projector.running ? left : Math.min(POLL_MS, left));
      // The projector wakes us when it publishes a page; the timer when polling is due or time is up.
      await (this.projector.running ? this.projector.nextApplied(timeout.signal) : once(timeout.signal, 'abort'));
      clearTimeout(timer);
    }
  }

  private async reached(target: Position): Promise<boolean> {
    const local = this.projector.position;
    if (local !== undefined && comparePositions(local, target) >= 0) return true;
    if (this.projector.running) return false;
    const checkpoint = await this.readModel.getCheckpoint();
    return checkpoint !== undefined && comparePositions(checkpoint, target) >= 0;
  }
}
