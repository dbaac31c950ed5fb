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
    const upsert = (userId: string) =>
      store.append(visitorStream({ environment: 'development', userId }), [{ id: userId, type: USER_UPSERTED, data: { userId, receivedAt: 1, attributes: {} } }], 'any');
    projector.start();
    try {
      expect(await watcher.waitFor((await upsert('first')).position, 5_000)).toBe(true);
      // No page in between: the projector still follows version 1, which the second rebuild drops.
      for (let rebuild = 0; rebuild < 2; rebuild++) {
        const cli = new SqliteReadModel(join(dir, 'idle-read-model.sqlite'));
        const target = await cli.beginRebuild();
        await rebuildReadModel(store, cli.version(target));
        expect(await cli.activate(target)).toBe(true);
        await cli.close();
      }
      // Were the dropped version taken for a failure, the projector would wait out its back-off (a minute).
      const written = await upsert('after');
      expect(await watcher.waitFor(written.position, 5_000)).toBe(true);
      expect(await live.findProfileJson('development', 'after')).toBeDefined();
      expect(warnings).toEqual([]);
    } finally {
      jest.restoreAllMocks();
      await projector.stop();
      await store.close();
      await live.close();
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
        const cli = new SqliteReadModel(join(dir, 'read-model.sqlite'));
        const target = await cli.beginRebuild();
        await rebuildReadModel(store, cli.version(target));
        expect(await cli.activate(target)).toBe(true);
        await cli.close();

        const written = await upsert(`after-${round}`, round);
        expect(await watcher.waitFor(written.position, 5_000)).toBe(true);
        expect(await live.findProfileJson('development', `after-${round}`)).toBeDefined();
      }
    } finally {
      await projector.stop();
      await store.close();
      await live.close();
    }
  });
});
