import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LoggedEvent, NewEvent, Position, SqliteEventStore, comparePositions } from '@visitorbase/event-store';
import { loadConfig } from '@visitorbase/platform';
import { SqliteReadModel } from '@visitorbase/read-model';
import { EVENT_TRACKED, RebuildProgress, USER_UPSERTED, rebuildReadModel, visitorStream } from '@visitorbase/users';
import { tempDataDir } from './support';

// Worker threads run compiled JavaScript: the coordinator and the store opener come from the build.
const DIST = join(__dirname, '../../dist');
const OPENER = join(DIST, 'apps/cli/src/rebuild-stores.js');
const built = (): typeof import('@visitorbase/users') => {
  if (!existsSync(OPENER)) throw new Error(`${OPENER} is missing: run "npm run build" (npm test does it first)`);
  return require(join(DIST, 'libs/users/src'));
};

const env = 'development';
const VISITORS = 40;

function upsert(userId: string, round: number): NewEvent[] {
  const metadata = { environment: env };
  return [
    { id: randomUUID(), type: USER_UPSERTED, data: { userId, receivedAt: 1_000 + round, attributes: { round, [`a${round % 4}`]: `v${round}` } }, metadata },
    { id: randomUUID(), type: EVENT_TRACKED, data: { userId, event: `e${round % 3}`, timestamp: 2_000 + round }, metadata },
  ];
}

describe('rebuildInParallel, in worker threads', () => {
  const data = tempDataDir();
  let store: SqliteEventStore;
  let readModel: SqliteReadModel;
  let expected: Array<string | undefined>;
  let expectedCheckpoint: unknown;
  const source = (version: number, module = OPENER) => ({ module, args: { config: loadConfig({ DATA_DIR: data.dir }), version } });

  const profilesOf = (find: (environment: string, userId: string) => Promise<string | undefined>) =>
    Promise.all(Array.from({ length: VISITORS }, (_, v) => find(env, `user ${v}@example.com`)));

  beforeAll(async () => {
    store = new SqliteEventStore(join(data.dir, 'events.sqlite'));
    for (let round = 0; round < 15; round++) {
      await Promise.all(
        Array.from({ length: VISITORS }, (_, v) => store.append(visitorStream({ environment: env, userId: `user ${v}@example.com` }), upsert(`user ${v}@example.com`, round), 'any')),
      );
      await store.append('audit-log', [{ id: randomUUID(), type: 'Noted', data: { round } }], 'any');
    }
    // What one thread makes of the same log.
    const whole = new SqliteReadModel(join(data.dir, 'whole.sqlite'));
    await rebuildReadModel(store, whole);
    expected = await profilesOf((e, u) => whole.findProfileJson(e, u));
    expectedCheckpoint = await whole.getCheckpoint();
    await whole.close();
    readModel = new SqliteReadModel(join(data.dir, 'read-model.sqlite'));
  });

  afterAll(async () => {
    await readModel?.close();
    await store?.close();
    data.remove();
  });

  /** A new version of the read model to rebuild into; the previous one is switched away from. */
  async function freshVersion(): Promise<number> {
    const { building } = await readModel.versions();
    if (building !== undefined) {
      await rebuildReadModel(store, readModel.version(building));
      await readModel.activate(building);
    }
    return readModel.beginRebuild();
  }

  it.each([2, 3])('gives the profiles and the checkpoint of one thread with %i shares', async (workers) => {
    const version = await freshVersion();
    const view = readModel.version(version);
    const progress: RebuildProgress[] = [];
    const result = await built().rebuildInParallel(store, view, { workers, stores: source(version), pageSize: 25, onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ events: 1_200, facts: 1_200, position: expectedCheckpoint });
    expect(await view.getCheckpoint()).toEqual(expectedCheckpoint);
    expect(await profilesOf((e, u) => view.findProfileJson(e, u))).toEqual(expected);
    expect(expected.every((body) => body !== undefined)).toBe(true);
    expect(progress[progress.length - 1].events).toBe(1_200);
    // Reported as far as the least advanced share: never backwards.
    expect(progress.every((p, i) => i === 0 || comparePositions(progress[i - 1].position, p.position) <= 0)).toBe(true);
  });

  /**
   * The view, with every checkpoint recorded checked as it is written: each
   * visitor must already be stored at least as far as its last event at or
   * before it. Returns the checkpoints recorded and what was found wrong.
   */
  async function checkedView(version: number) {
    const log: LoggedEvent[] = [];
    for await (const page of store.readAllPages({ streamPrefix: 'visitor-' })) log.push(...page);
    const view = readModel.version(version);
    const recorded: Position[] = [];
    const wrong: string[] = [];
    const save = view.saveProfiles.bind(view);
    view.saveProfiles = async (profiles, checkpoint) => {
      if (checkpoint !== undefined && profiles.length === 0) {
        recorded.push(checkpoint);
        const keys = Array.from({ length: VISITORS }, (_, v) => ({ environment: env, userId: `user ${v}@example.com` }));
        const stored = await view.loadProfiles(keys);
        keys.forEach((key, i) => {
          const stream = visitorStream(key);
          const due = log.filter((e) => e.stream === stream && comparePositions(e.position, checkpoint) <= 0).map((e) => e.revision);
          const needed = due.length === 0 ? -1 : Math.max(...due);
          const has = stored[i]?.revision ?? -1;
          if (has < needed) wrong.push(`${key.userId}: revision ${has} stored, ${needed} due at checkpoint ${checkpoint.commit}`);
        });
      }
      return save(profiles, checkpoint);
    };
    return { view, recorded, wrong };
  }

  it('records the checkpoint as far as every share has saved, never past what is stored, and resumes from it to the same profiles', async () => {
    const version = await freshVersion();
    const { view, recorded, wrong } = await checkedView(version);
    const abort = new AbortController();
    const stopped = await built().rebuildInParallel(store, view, {
      workers: 3,
      stores: source(version),
      pageSize: 10,
      maxProfilesPerWrite: 3,
      signal: abort.signal,
      onProgress: (p) => p.events >= 600 && abort.abort(),
    });
    expect(recorded.length).toBeGreaterThan(1);
    expect(wrong).toEqual([]);
    expect(stopped.position).toBeUndefined();
    expect(stopped.events).toBeLessThan(1_200);
    const checkpoint = await view.getCheckpoint();
    expect(checkpoint).toBeDefined();
    expect(comparePositions(checkpoint!, expectedCheckpoint as Position)).toBeLessThan(0);
    const resumed = await built().rebuildInParallel(store, view, { workers: 2, stores: source(version), pageSize: 10, maxProfilesPerWrite: 3 });
    expect(wrong).toEqual([]);
    // From the checkpoint, not from the start of the log.
    expect(resumed.events).toBeLessThan(1_200);
    expect(resumed.position).toEqual(expectedCheckpoint);
    expect(await profilesOf((e, u) => view.findProfileJson(e, u))).toEqual(expected);
  });

  it('fails as a whole when one share fails, and records no checkpoint', async () => {
    const version = await freshVersion();
    const view = readModel.version(version);
    const missing = join(data.dir, 'no-such-opener.js');
    await expect(built().rebuildInParallel(store, view, { workers: 2, stores: source(version, missing), pageSize: 10 })).rejects.toThrow(
      /Cannot find module/,
    );
    expect(await view.getCheckpoint()).toBeUndefined();
  });
});
