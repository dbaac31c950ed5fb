import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { position } from '@visitorbase/event-store';
import Database from 'better-sqlite3';
import { EVENT_TRACKED, Profile, USER_UPSERTED, VisitorFact, evolve, serializeProfile, toView } from '@visitorbase/users/domain';
import { SqliteReadModel } from './sqlite-read-model';

const upserted = (userId: string, from: string): VisitorFact => ({
  environment: 'development',
  userId,
  revision: 0,
  type: USER_UPSERTED,
  data: { userId, receivedAt: 1, attributes: { from } },
});

describe('SqliteReadModel reads across a switch made by another process', () => {
  let dir: string;
  let service: SqliteReadModel;
  let cli: SqliteReadModel;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'visitorbase-read-model-'));
    service = new SqliteReadModel(join(dir, 'read-model.sqlite'));
    cli = new SqliteReadModel(join(dir, 'read-model.sqlite'));
  });
  afterEach(async () => {
    await service.close();
    await cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const from = async (readModel: SqliteReadModel, userId = 'u') =>
    JSON.parse((await readModel.findProfileJson('development', userId)) ?? '{"attributes":{"from":"nowhere"}}').attributes.from;

  it('reads the new version once the active version has been looked up again, as a consistency token makes it', async () => {
    await service.apply([upserted('u', 'v1')], position(1n));
    expect(await from(service)).toBe('v1');
    const target = await cli.beginRebuild();
    await cli.version(target).apply([upserted('u', 'v2')], position(1n));
    expect(await cli.activate(target)).toBe(true);
    // What the projection watcher does before it honours a token.
    await service.getCheckpoint();
    expect(await from(service)).toBe('v2');
  });

  it('never misses a visitor because the version it last read was dropped', async () => {
    await service.apply([upserted('u', 'v1')], position(1n));
    expect(await from(service)).toBe('v1');
    const second = await cli.beginRebuild();
    await cli.version(second).apply([upserted('u', 'v2')], position(1n));
    await cli.activate(second);
    // The next rebuild drops version 1, which the service may still be reading.
    const third = await cli.beginRebuild();
    expect(third).toBe(3);
    expect(await from(service)).toBe('v2');
  });
});

describe('SqliteReadModel rows', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'visitorbase-read-model-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const tracked = (revision: number, event: string, timestamp: number): VisitorFact => ({
    environment: 'development',
    userId: 'old',
    revision,
    type: EVENT_TRACKED,
    data: { userId: 'old', event, timestamp },
  });

  it('keeps only the body, and still folds on from rows written with their state beside it', async () => {
    const file = join(dir, 'read-model.sqlite');
    const readModel = new SqliteReadModel(file);
    const first = [{ ...upserted('old', 'before'), userId: 'old' }, tracked(1, 'e', 10)];
    const profile = first.reduce<Profile | undefined>(evolve, undefined)!;
    // A row as versions before wrote it: the fold state serialized beside the body.
    const raw = new Database(file);
    raw
      .prepare('INSERT INTO profiles_v1 (environment, user_id, revision, state, body) VALUES (?, ?, ?, ?, ?)')
      .run('development', 'old', profile.revision, serializeProfile(profile), JSON.stringify(toView(profile)));
    await readModel.apply([tracked(1, 'e', 10), tracked(2, 'e', 20)], position(1n));
    const all = [...first, tracked(2, 'e', 20)].reduce<Profile | undefined>(evolve, undefined)!;
    expect(await readModel.findProfileJson('development', 'old')).toBe(JSON.stringify(toView(all)));
    expect(raw.prepare('SELECT state FROM profiles_v1 WHERE user_id = ?').get('old')).toEqual({ state: '' });
    // Folding on from the body alone.
    await readModel.apply([tracked(3, 'f', 5)], position(2n));
    expect(await readModel.findProfileJson('development', 'old')).toBe(JSON.stringify(toView(evolve(all, tracked(3, 'f', 5)))));
    raw.close();
    await readModel.close();
  });
});
