import { Logger } from '@nestjs/common';
import {
  EventStore,
  EventStoreUnavailableError,
  Position,
  RecordedEvent,
  SubscribeOptions,
  position,
} from '@visitorbase/event-store';
import { ReadModel, ReadModelUnavailableError, ReadModelView } from '@visitorbase/read-model';
import { EVENT_TRACKED, VisitorFact } from '../domain/events';
import { visitorStream } from '../domain/visitor-stream';
import { Projector } from './projector';

/**
 * The loop around the subscription, driven by scripted subscriptions: each
 * call to `subscribeToAll` plays the next script, which yields pages, then
 * fails, ends, or waits for the abort. No database is involved.
 */
type Step = { pages: RecordedEvent[][]; then: 'fail' | 'end' | 'follow' };

class ScriptedStore implements Pick<EventStore, 'subscribeToAll' | 'headPosition'> {
  readonly subscribedAfter: Array<Position | undefined> = [];
  constructor(private readonly script: Step[]) {}

  /** Past every page of the script: no checkpoint is ever ahead of this log. */
  async headPosition(): Promise<Position> {
    return position(1n << 60n);
  }

  async *subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<readonly RecordedEvent[]> {
    this.subscribedAfter.push(options.after);
    const step = this.script.shift() ?? { pages: [], then: 'follow' };
    for (const page of step.pages) yield page;
    if (step.then === 'fail') throw new EventStoreUnavailableError('connection lost');
    if (step.then === 'follow') await new Promise((resolve) => options.signal?.addEventListener('abort', resolve, { once: true }));
  }
}

/** Keeps what the projector applied, and can be told to fail the next applies. */
class RecordingReadModel implements Pick<ReadModel, 'getCheckpoint' | 'apply' | 'versions' | 'version'> {
  async versions() {
    return { active: 1 };
  }

  version(): ReadModelView {
    const unused = async (): Promise<never> => {
      throw new Error('the live projector folds facts; it never loads or saves whole profiles');
    };
    return {
      getCheckpoint: () => this.getCheckpoint(),
      apply: (f, c) => this.apply(f, c),
      loadProfiles: unused,
      saveProfiles: unused,
      findProfileJson: async () => undefined,
    };
  }

  checkpoint?: Position;
  readonly applied: VisitorFact[] = [];
  failNextApplies = 0;

  async getCheckpoint(): Promise<Position | undefined> {
    return this.checkpoint;
  }

  async apply(facts: readonly VisitorFact[], checkpoint: Position): Promise<void> {
    if (this.failNextApplies > 0) {
      this.failNextApplies--;
      throw new ReadModelUnavailableError('read model gone');
    }
    this.applied.push(...facts);
    this.checkpoint = checkpoint;
  }
}

const stream = visitorStream({ environment: 'development', userId: 'u-1' });

function tracked(revision: number): RecordedEvent {
  return {
    id: `id-${revision}`,
    stream,
    revision,
    position: position(BigInt(100 + revision)),
    type: EVENT_TRACKED,
    data: { userId: 'u-1', event: 'E', timestamp: revision },
    metadata: {},
    recordedAt: 0,
  };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('Projector', () => {
  let warnings: string[];
  let projector: Projector | undefined;

  beforeEach(() => {
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await projector?.stop();
    projector = undefined;
    jest.restoreAllMocks();
  });

  function start(script: Step[], readModel = new RecordingReadModel()) {
    const store = new ScriptedStore(script);
    projector = new Projector(store as unknown as EventStore, readModel as unknown as ReadModel, {
      initialBackoffMs: 1,
      maxBackoffMs: 4,
    });
    projector.start();
    return { store, readModel, projector };
  }

  it('resubscribes from the last applied position after the subscription fails, and says so', async () => {
    const { store, readModel, projector } = start([
      { pages: [[tracked(0), tracked(1)]], then: 'fail' },
      { pages: [[tracked(2)]], then: 'follow' },
    ]);
    await until(() => readModel.applied.length === 3);

    expect(store.subscribedAfter).toEqual([undefined, position(101n)]);
    expect(readModel.applied.map((fact) => fact.revision)).toEqual([0, 1, 2]);
    expect(projector.position).toEqual(position(102n));
    expect(warnings).toEqual([
      'projection failed (connection lost); resubscribing from the checkpoint 101 in 1 ms',
    ]);
  });

  it('treats a subscription that ends on its own as a drop', async () => {
    const { store, readModel } = start([
      { pages: [[tracked(0)]], then: 'end' },
      { pages: [[tracked(1)]], then: 'follow' },
    ]);
    await until(() => readModel.applied.length === 2);

    expect(store.subscribedAfter).toEqual([undefined, position(100n)]);
    expect(warnings).toEqual(['the subscription ended; resubscribing from the checkpoint 100 in 1 ms']);
  });

  it('doubles the wait on each failure in a row up to the maximum, and starts over after a page is applied', async () => {
    const { store, readModel } = start([
      { pages: [], then: 'fail' },
      { pages: [], then: 'fail' },
      { pages: [], then: 'fail' },
      { pages: [], then: 'fail' },
      { pages: [[tracked(0)]], then: 'fail' },
      { pages: [], then: 'fail' },
      { pages: [[tracked(1)]], then: 'follow' },
    ]);
    await until(() => readModel.applied.length === 2);

    expect(warnings.map((w) => /in (\d+) ms$/.exec(w)?.[1])).toEqual(['1', '2', '4', '4', '1', '2']);
    expect(store.subscribedAfter).toHaveLength(7);
  });

  it('resubscribes from the stored checkpoint when a page cannot be applied, so nothing is skipped', async () => {
    const readModel = new RecordingReadModel();
    readModel.checkpoint = position(99n);
    readModel.failNextApplies = 1;
    const { store } = start(
      [
        { pages: [[tracked(0)], [tracked(1)]], then: 'follow' },
        { pages: [[tracked(0)], [tracked(1)]], then: 'follow' },
      ],
      readModel,
    );
    await until(() => readModel.applied.length === 2);

    expect(store.subscribedAfter).toEqual([position(99n), position(99n)]);
    expect(readModel.applied.map((fact) => fact.revision)).toEqual([0, 1]);
    expect(warnings).toEqual([
      'projection failed (read model gone); resubscribing from the checkpoint 99 in 1 ms',
    ]);
  });

  it('stops promptly while it waits to resubscribe', async () => {
    const store = new ScriptedStore([{ pages: [], then: 'fail' }]);
    const slow = new Projector(store as unknown as EventStore, new RecordingReadModel() as unknown as ReadModel, {
      initialBackoffMs: 60_000,
    });
    slow.start();
    await until(() => warnings.length === 1);
    const started = Date.now();
    await slow.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(warnings[0]).toBe('projection failed (connection lost); resubscribing from the start of the log in 60000 ms');
  });

  it('starts again once a stop under way is done, when asked to start meanwhile', async () => {
    const { store, readModel, projector } = start([
      { pages: [[tracked(0)]], then: 'follow' },
      { pages: [[tracked(1)]], then: 'follow' },
    ]);
    await until(() => readModel.applied.length === 1);
    const stopped = projector.stop();
    projector.start();
    await stopped;
    await until(() => readModel.applied.length === 2);
    expect(projector.running).toBe(true);
    expect(store.subscribedAfter).toEqual([undefined, position(100n)]);
  });

  it('stays stopped when the last call made while a stop was under way was to stop', async () => {
    const { store, readModel, projector } = start([{ pages: [[tracked(0)]], then: 'follow' }]);
    await until(() => readModel.applied.length === 1);
    const stopped = projector.stop();
    projector.start();
    await Promise.all([stopped, projector.stop()]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(projector.running).toBe(false);
    expect(store.subscribedAfter).toHaveLength(1);
  });
});
