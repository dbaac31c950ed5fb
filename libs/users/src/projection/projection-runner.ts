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
  abstract start(): void;
  abstract stop(): Promise<void>;
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
