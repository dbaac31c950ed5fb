import { EventStore, position } from '@visitorbase/event-store';
import { ReadModel } from '@visitorbase/read-model';
import { ProjectorThread, ProjectorThreadMessage } from './projector-thread';

/**
 * How this side publishes the positions the thread sends, driven by the
 * messages themselves: no thread is started.
 */
describe('ProjectorThread publishing positions', () => {
  /** A read model whose version lookups finish only when the test says. */
  class HeldVersions {
    readonly lookups: Array<() => void> = [];
    versions(): Promise<{ active: number }> {
      return new Promise((resolve) => this.lookups.push(() => resolve({ active: 1 })));
    }
  }

  const turns = async (n = 5) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  function threadWith(readModel: HeldVersions) {
    const thread = new ProjectorThread({ config: {} }, {} as EventStore, readModel as unknown as ReadModel);
    const send = (message: ProjectorThreadMessage) => (thread as unknown as { onMessage(m: ProjectorThreadMessage): void }).onMessage(message);
    return { thread, send };
  }

  it('publishes a position only after looking up the active version, and then only the newest of those sent meanwhile', async () => {
    const readModel = new HeldVersions();
    const { thread, send } = threadWith(readModel);
    const seen: Array<bigint | undefined> = [];
    const watching = (async () => {
      while (seen[seen.length - 1] !== 4n) {
        await thread.nextApplied();
        seen.push(thread.position?.commit);
      }
    })();

    send({ type: 'position', position: position(1n), published: true });
    await turns();
    expect(readModel.lookups).toHaveLength(1);
    expect(thread.position).toBeUndefined();

    for (const at of [2n, 3n, 4n]) send({ type: 'position', position: position(at), published: true });
    await turns();
    // One lookup at a time: the three positions sent during the first wait for one lookup.
    expect(readModel.lookups).toHaveLength(1);

    readModel.lookups[0]();
    await turns();
    expect(readModel.lookups).toHaveLength(2);
    expect(thread.position).toEqual(position(1n));

    readModel.lookups[1]();
    await watching;
    expect(thread.position).toEqual(position(4n));
    expect(readModel.lookups).toHaveLength(2);
    // Positions 2 and 3 were never published, and none went backwards.
    expect(seen).toEqual([1n, 4n]);
  });

  it('counts the thread as running from its first position', async () => {
    const readModel = new HeldVersions();
    const { thread, send } = threadWith(readModel);
    expect(thread.running).toBe(false);
    send({ type: 'position', position: undefined, published: false });
    expect(thread.running).toBe(true);
    readModel.lookups[0]();
    await turns();
    expect(thread.position).toBeUndefined();
  });

  it('tells the caller of a start() made during a stop that it cannot start, and the stop still succeeds', async () => {
    // From the sources there is no compiled worker script to start; as if a thread had been started before.
    const { thread } = threadWith(new HeldVersions());
    (thread as unknown as { started: boolean }).started = true;
    const stopped = thread.stop();
    expect(() => thread.start()).toThrow(/projector-worker\.js is missing/);
    await expect(stopped).resolves.toBeUndefined();
    expect(thread.running).toBe(false);
  });
});
