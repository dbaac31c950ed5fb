import { EventStore, RecordedEvent, position } from '@visitorbase/event-store';
import { ReadModel } from '@visitorbase/read-model';
import { AppliedWaiters } from './projection-runner';
import { ProjectionWatcher } from './projection-watcher';
import { Projector } from './projector';

/** A log that never delivers anything until the subscription is aborted. */
const silentStore = {
  async *subscribeToAll(options: { signal?: AbortSignal }): AsyncIterable<readonly RecordedEvent[]> {
    await new Promise((resolve) => options.signal?.addEventListener('abort', resolve, { once: true }));
  },
} as unknown as EventStore;

const emptyReadModel = {
  versions: async () => ({ active: 1 }),
  version: () => emptyReadModel,
  getCheckpoint: async () => undefined,
} as unknown as ReadModel;

describe('ProjectionWatcher', () => {
  it('leaves no waiter behind when waits time out while nothing is projected', async () => {
    const projector = new Projector(silentStore, emptyReadModel);
    projector.start();
    try {
      const watcher = new ProjectionWatcher(emptyReadModel, projector);
      const results = await Promise.all(Array.from({ length: 200 }, () => watcher.waitFor(position(5n), 5)));
      expect(results.every((reached) => reached === false)).toBe(true);
      expect((projector as unknown as { appliedWaiters: AppliedWaiters }).appliedWaiters.size).toBe(0);
    } finally {
      await projector.stop();
    }
  });
});
