import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoggedEvent, NewEvent, SqliteEventStore } from '@visitorbase/event-store';
import { SqliteReadModel } from '@visitorbase/read-model';
import { EVENT_TRACKED, USER_UPSERTED } from '../domain/events';
import { visitorStream } from '../domain/visitor-stream';
import { RebuildProgress, rebuildReadModel } from './rebuild';

const env = 'development';

function request(userId: string, at: number, events: string[], attributes: Record<string, string | number | boolean>): NewEvent[] {
  const metadata = { environment: env };
  return [
    { id: randomUUID(), type: USER_UPSERTED, data: { userId, receivedAt: at, attributes }, metadata },
    ...events.map((event, i) => ({ id: randomUUID(), type: EVENT_TRACKED, data: { userId, event, timestamp: at + i }, metadata })),
  ];
}

describe('rebuildReadModel', () => {
  let dir: string;
  let store: SqliteEventStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visitorbase-rebuild-'));
    store = new SqliteEventStore(join(dir, 'events.sqlite'));
    const appends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 60; i++) {
      const userId = `user-${i % 7}`;
      appends.push(store.append(visitorStream({ environment: env, userId }), request(userId, 1000 + i, [`e${i % 3}`, `e${i % 5}`], { n: i, odd: i % 2 === 1 }), 'any'));
    }
    // A stream the projection does not fold is read past, not applied.
    appends.push(store.append('audit-log', [{ id: randomUUID(), type: 'Noted', data: {} }], 'any'));
    await Promise.all(appends);
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function profiles(readModel: SqliteReadModel): Promise<Array<string | undefined>> {
    return Promise.all(Array.from({ length: 7 }, (_, i) => readModel.findProfileJson(env, `user-${i}`)));
  }

  it('gives the same profiles and checkpoint whatever the page size', async () => {
    const whole = new SqliteReadModel(join(dir, 'whole.sqlite'));
    const paged = new SqliteReadModel(join(dir, 'paged.sqlite'));
    const progress: RebuildProgress[] = [];
    const a = await rebuildReadModel(store, whole);
    const b = await rebuildReadModel(store, paged, { pageSize: 7, onProgress: (p) => progress.push(p) });

    expect(a).toMatchObject({ events: 180, facts: 180 });
    expect(a.position).toEqual(await whole.getCheckpoint());
    expect(b.events).toBe(180);
    expect(b.facts).toBe(180);
    expect(progress.length).toBe(Math.ceil(180 / 7));
    expect(progress[progress.length - 1].events).toBe(180);
    expect(await profiles(paged)).toEqual(await profiles(whole));
    expect((await profiles(whole)).every((body) => body !== undefined)).toBe(true);
    expect(await paged.getCheckpoint()).toEqual(await whole.getCheckpoint());
    expect(JSON.parse((await whole.findProfileJson(env, 'user-0'))!).attributes).toEqual({ n: 56, odd: false });
    await whole.close();
    await paged.close();
  });

  it('gives the same profiles when memory holds fewer visitors than the log has, loading back the ones it forgot', async () => {
    const whole = new SqliteReadModel(join(dir, 'whole.sqlite'));
    const small = new SqliteReadModel(join(dir, 'small.sqlite'));
    await rebuildReadModel(store, whole);
    const loads: number[] = [];
    const loadProfiles = small.loadProfiles.bind(small);
    small.loadProfiles = async (keys) => {
      loads.push(keys.length);
      return loadProfiles(keys);
    };
    const result = await rebuildReadModel(store, small, { pageSize: 11, maxCachedProfiles: 2 });
    expect(result).toMatchObject({ events: 180, facts: 180 });
    expect(await profiles(small)).toEqual(await profiles(whole));
    expect(await small.getCheckpoint()).toEqual(await whole.getCheckpoint());
    // Forgotten visitors were asked for again: more loads than visitors.
    expect(loads.reduce((a, b) => a + b, 0)).toBeGreaterThan(7);
    await whole.close();
    await small.close();
  });

  it('writes a save in parts with the checkpoint in the last, and resumes cleanly when a part fails', async () => {
    const whole = new SqliteReadModel(join(dir, 'whole.sqlite'));
    await rebuildReadModel(store, whole);
    const parts = new SqliteReadModel(join(dir, 'parts.sqlite'));
    const saves: Array<{ profiles: number; checkpoint: boolean }> = [];
    const saveProfiles = parts.saveProfiles.bind(parts);
    let failOnCall = 3;
    parts.saveProfiles = async (profiles, checkpoint) => {
      saves.push({ profiles: profiles.length, checkpoint: checkpoint !== undefined });
      if (--failOnCall === 0) throw new Error('the disk went away');
      return saveProfiles(profiles, checkpoint);
    };
    await expect(rebuildReadModel(store, parts, { maxProfilesPerWrite: 2 })).rejects.toThrow('the disk went away');
    // Seven visitors in parts of two: the first parts leave the checkpoint alone.
    expect(saves.slice(0, 3)).toEqual([
      { profiles: 2, checkpoint: false },
      { profiles: 2, checkpoint: false },
      { profiles: 2, checkpoint: false },
    ]);
    expect(await parts.getCheckpoint()).toBeUndefined();
    saves.length = 0;
    const resumed = await rebuildReadModel(store, parts, { maxProfilesPerWrite: 2 });
    expect(resumed.events).toBe(180);
    expect(saves.map((save) => save.checkpoint)).toEqual([false, false, false, true]);
    expect(saves.map((save) => save.profiles)).toEqual([2, 2, 2, 1]);
    expect(await profiles(parts)).toEqual(await profiles(whole));
    expect(await parts.getCheckpoint()).toEqual(await whole.getCheckpoint());
    await whole.close();
    await parts.close();
  });

  it('resumes from the checkpoint of a read model it already wrote to', async () => {
    const once = new SqliteReadModel(join(dir, 'once.sqlite'));
    await rebuildReadModel(store, once);
    const resumed = new SqliteReadModel(join(dir, 'resumed.sqlite'));
    const controller = new AbortController();
    const first = await rebuildReadModel(store, resumed, {
      pageSize: 50,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect(first.events).toBe(50);
    const rest = await rebuildReadModel(store, resumed, { pageSize: 50 });
    expect(rest.events).toBe(130);
    expect(await profiles(resumed)).toEqual(await profiles(once));
    await once.close();
    await resumed.close();
  });

  it('folds shares of the visitors apart into the same profiles, leaving the checkpoint to whoever runs them all', async () => {
    const whole = new SqliteReadModel(join(dir, 'whole.sqlite'));
    await rebuildReadModel(store, whole);
    const shared = new SqliteReadModel(join(dir, 'shared.sqlite'));
    const head = await store.headPosition();
    const results = [];
    for (let index = 0; index < 3; index++) {
      results.push(await rebuildReadModel(store, shared, { partition: { index, count: 3 }, upTo: head, pageSize: 4, maxCachedProfiles: 1 }));
      expect(await shared.getCheckpoint()).toBeUndefined();
    }
    // Every visitor event read once, by one share only (seven visitors over three shares: none empty here).
    expect(results.map((r) => r.events).reduce((a, b) => a + b)).toBe(180);
    expect(results.every((r) => r.events > 0)).toBe(true);
    expect(await profiles(shared)).toEqual(await profiles(whole));
    await expect(rebuildReadModel(store, shared, { partition: { index: 3, count: 3 } })).rejects.toThrow(RangeError);
    await whole.close();
    await shared.close();
  });

  it('folds nothing past the position it is given, and resumes from there', async () => {
    const whole = new SqliteReadModel(join(dir, 'whole.sqlite'));
    await rebuildReadModel(store, whole);
    const all: LoggedEvent[] = [];
    for await (const page of store.readAllPages({ streamPrefix: 'visitor-' })) all.push(...page);
    const upTo = all[99].position;
    const stopped = new SqliteReadModel(join(dir, 'stopped.sqlite'));
    expect(await rebuildReadModel(store, stopped, { upTo, pageSize: 7 })).toMatchObject({ events: 100, position: upTo });
    expect(await stopped.getCheckpoint()).toEqual(upTo);
    expect(await rebuildReadModel(store, stopped)).toMatchObject({ events: 80 });
    expect(await profiles(stopped)).toEqual(await profiles(whole));
    await whole.close();
    await stopped.close();
  });

  it('applies nothing to a read model already at the head', async () => {
    const readModel = new SqliteReadModel(join(dir, 'rm.sqlite'));
    await rebuildReadModel(store, readModel);
    expect(await rebuildReadModel(store, readModel)).toEqual({ events: 0, facts: 0, position: undefined });
    await readModel.close();
  });
});
