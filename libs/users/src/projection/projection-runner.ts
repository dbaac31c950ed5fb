import { Logger } from '@nestjs/common';
import { Position } from '@visitorbase/event-store';

/**
 * The projection as this process runs it, on its event loop (`Projector`)
 * or on a thread of its own (`ProjectorThread`). The class is the injection
 * token: whoever waits for the projection (consistency tokens, health) asks
 * for it, not for one way of running it.
 */
export abstract class ProjectionRunner {
  /**
   * Whether it follows the log. `Projector` counts its backoff between
   * attempts as running; `ProjectorThread` does not count the time no
   * thread is up. When false, waits poll the read model's checkpoint.
   */
  abstract get running(): boolean;
  /** Position of the last event applied to the active read model version, if known. */
  abstract get position(): Position | undefined;
  /**
   * Resolves the next time the projection publishes a page, or when `signal`
   * aborts; either way the waiter is gone, so waits that time out leave nothing behind.
   */
  abstract nextApplied(signal?: AbortSignal): Promise<void>;

  private started = false;
  /** What the last call asked for: start() made while a stop is under way starts again once it is done. */
  private wanted = false;
  private stopping?: Promise<void>;

  /** Starts following the log; asked while a stop is under way, starts again once that stop is done. */
  start(): void {
    this.checkStartable();
    this.wanted = true;
    if (this.started || this.stopping !== undefined) return;
    this.started = true;
    this.begin();
  }

  /**
   * Resolves once stopped; if start() was called while it was stopping, and
   * stop() not since, it has been started again by then.
   */
  stop(): Promise<void> {
    this.wanted = false;
    if (!this.started) return Promise.resolve();
    return (this.stopping ??= this.stopThenStartIfAsked());
  }

  protected get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Throws, to the caller of start(), when this runner cannot start at all. */
  protected checkStartable(): void {}
  protected abstract begin(): void;
  protected abstract end(): Promise<void>;

  private async stopThenStartIfAsked(): Promise<void> {
    try {
      await this.end();
    } finally {
      this.started = false;
      this.stopping = undefined;
    }
    if (!this.wanted) return;
    try {
      this.start();
    } catch (error) {
      // The stop itself succeeded: its callers are not handed the failure of the start.
      this.wanted = false;
      new Logger('Projector').error(`the projection could not be started again: ${(error as Error).message}`);
    }
  }
}

/** The waiters of `nextApplied`, for a runner to wake when it publishes. */
export class AppliedWaiters {
  private readonly waiters = new Set<() => void>();

  next(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Waiters not yet woken. */
  get size(): number {
    return this.waiters.size;
  }

  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
