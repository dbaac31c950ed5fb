import { EventStore, Position, position } from '@visitorbase/event-store';
import { ReadModel } from '@visitorbase/read-model';
import { projectionStatus } from './status';

describe('projectionStatus', () => {
  it('never takes a caught-up projection for one ahead of its log, however slowly the checkpoint is read', async () => {
    // A log that grows by one event a millisecond, and a projection that keeps up with it: the
    // checkpoint answers with where the projection stands when the answer leaves, 20 ms after asking.
    const started = Date.now();
    const now = (): Position => position(BigInt(1 + Date.now() - started));
    const store = {
      headPosition: async () => now(),
      // Nothing is ever behind: the lag is never counted.
      readAll: async function* () {},
    } as unknown as EventStore;
    const readModel = {
      versions: async () => ({ active: 1 }),
      getCheckpoint: () => new Promise<Position>((resolve) => setTimeout(() => resolve(now()), 20)),
    } as unknown as ReadModel;
    for (let i = 0; i < 5; i++) expect((await projectionStatus(store, readModel)).aheadOfLog).toBe(false);
  });

  it('says so of a checkpoint past the last event of the log', async () => {
    const store = { headPosition: async () => position(3n), readAll: async function* () {} } as unknown as EventStore;
    const readModel = { versions: async () => ({ active: 1 }), getCheckpoint: async () => position(9n) } as unknown as ReadModel;
    expect(await projectionStatus(store, readModel)).toMatchObject({ aheadOfLog: true, lagEvents: 0 });
  });
});
