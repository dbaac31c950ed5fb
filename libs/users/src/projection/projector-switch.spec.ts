import { mkdtempSync, rmSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '@visitorbase/event-store';
import { SqliteReadModel } from '@visitorbase/read-model';
import { USER_UPSERTED } from '../domain/events';
import { visitorStream } from '../domain/visitor-stream';
import { ProjectionWatcher } from './projection-watcher';
import { Projector } from './projector';
import { rebuildReadModel } from './rebuild';

/** A visitor's first upsert, its id its userId. */
const upsert = (store: SqliteEventStore, userId: string) =>
  store.append(visitorStream({ environment: 'development', userId }), [{ id: userId, type: USER_UPSERTED, data: { userId, receivedAt: 1, attributes: {} } }], 'any');

/** What the CLI does beside a running service: rebuilds into a new version on a connection of its own, then switches to it. */
async function rebuildAndSwitch(store: SqliteEventStore, file: string): Promise<boolean> {
  const cli = new SqliteReadModel(file);
  try {
    const target = await cli.beginRebuild();
    await rebuildReadModel(store, cli.version(target));
    return await cli.activate(target);
  } finally {
    await cli.close();
  }
}

/** Ends a test: its mocks undone, its projector stopped, its stores closed. */
async function closeAll(projector: Projector, store: SqliteEventStore, live: SqliteReadModel): Promise<void> {
  jest.restoreAllMocks();
  await projector.stop();
  await store.close();
  await live.close();
}

describe('a read model switch under a running projector', () => {
  const dir = mkdtempSync(join(tmpdir(), 'visitorbase-switch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('follows two rebuilds made while it was idle, the version it wrote into dropped by the second, without a failure', async () => {
    const warnings: string[] = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    const store = new SqliteEventStore(join(dir, 'idle-events.sqlite'));
    const live = new SqliteReadModel(join(dir, 'idle-read-model.sqlite'));
    const projector = new Projector(store, live, { initialBackoffMs: 60_000 });
    const watcher = new ProjectionWatcher(live, projector);
    projector.start();
    try {
      expect(await watcher.waitFor((await upsert(store, 'first')).position, 5_000)).toBe(true);
      // No page in between: the projector still follows version 1, which the second rebuild drops.
      for (let rebuild = 0; rebuild < 2; rebuild++) {
        expect(await rebuildAndSwitch(store, join(dir, 'idle-read-model.sqlite'))).toBe(true);
      }
      // Were the dropped version taken for a failure, the projector would wait out its back-off (a minute).
      const written = await upsert(store, 'after');
      expect(await watcher.waitFor(written.position, 5_000)).toBe(true);
      expect(await live.findProfileJson('development', 'after')).toBeDefined();
      expect(warnings).toEqual([]);
    } finally {
      await closeAll(projector, store, live);
    }
  });

  it('wakes a reader waiting for a write that reached the active version by a switch, not by a page it published', async () => {
    const store = new SqliteEventStore(join(dir, 'wake-events.sqlite'));
    const live = new SqliteReadModel(join(dir, 'wake-read-model.sqlite'));
    // The projector's applies into version 1 wait at this gate while it is closed.
    let open: () => void = () => undefined;
    let gate: Promise<void> | undefined;
    const view = live.version.bind(live);
    jest.spyOn(live, 'version').mockImplementation((version) => {
      const target = view(version);
      return { ...target, apply: async (facts, checkpoint) => (await gate, target.apply(facts, checkpoint)) };
    });
    const projector = new Projector(store, live);
    const watcher = new ProjectionWatcher(live, projector);
    projector.start();
    try {
      expect(await watcher.waitFor((await upsert(store, 'first')).position, 5_000)).toBe(true);
      gate = new Promise<void>((resolve) => (open = resolve));
      // The projector holds the page of this write at the gate while a rebuild that has it is switched to.
      const written = await upsert(store, 'token');
      expect(await rebuildAndSwitch(store, join(dir, 'wake-read-model.sqlite'))).toBe(true);
      const waited = watcher.waitFor(written.position, 60_000);
      open();
      // No later write comes to publish a page: the resubscription itself must wake the reader.
      const deadline = new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 5_000).unref());
      expect(await Promise.race([waited, deadline])).toBe(true);
      expect(await live.findProfileJson('development', 'token')).toBeDefined();
    } finally {
      open();
      await closeAll(projector, store, live);
    }
  });

  it('never tells a waiting reader a write is there before the active version has it', async () => {
    const store = new SqliteEventStore(join(dir, 'events.sqlite'));
    const live = new SqliteReadModel(join(dir, 'read-model.sqlite'));
    const projector = new Projector(store, live);
    const watcher = new ProjectionWatcher(live, projector);
    const upsert = (userId: string, n: number) =>
      store.append(
        visitorStream({ environment: 'development', userId }),
        [{ id: `${userId}-${n}`, type: USER_UPSERTED, data: { userId, receivedAt: n, attributes: { n } } }],
        'any',
      );
    projector.start();
    try {
      for (let round = 0; round < 5; round++) {
        const first = await upsert(`before-${round}`, round);
        expect(await watcher.waitFor(first.position, 5_000)).toBe(true);

        // Another process (the CLI) rebuilds and switches while the projector runs.
        expect(await rebuildAndSwitch(store, join(dir, 'read-model.sqlite'))).toBe(true);

        const written = await upsert(`after-${round}`, round);
        expect(await watcher.waitFor(written.position, 5_000)).toBe(true);
        expect(await live.findProfileJson('development', `after-${round}`)).toBeDefined();
      }
    } finally {
      await closeAll(projector, store, live);
    }
  });
});
