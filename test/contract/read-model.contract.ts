import { randomUUID } from 'node:crypto';
import { position } from '@visitorbase/event-store';
import { ReadModel } from '@visitorbase/read-model';
import { EVENT_TRACKED, Profile, USER_UPSERTED, VisitorFact, evolve, toView } from '@visitorbase/users/domain';

/**
 * What every ReadModel adapter must do: fold facts exactly as the pure
 * `evolve` does, idempotently, and keep the checkpoint with the documents.
 * `open` must give a read model with no checkpoint yet.
 */
export function readModelContract(open: () => Promise<ReadModel>): void {
  let readModel: ReadModel;
  let env: string;
  let nextPosition = 1n;

  beforeAll(async () => {
    readModel = await open();
  });
  afterAll(async () => {
    await readModel?.close();
  });
  beforeEach(() => {
    env = `env_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  });

  const upserted = (userId: string, revision: number, attributes: Record<string, string | number | boolean>, receivedAt: number, emailAddress?: string): VisitorFact => ({
    environment: env,
    userId,
    revision,
    type: USER_UPSERTED,
    data: { userId, receivedAt, attributes, ...(emailAddress ? { emailAddress } : {}) },
  });
  const tracked = (userId: string, revision: number, event: string, timestamp: number): VisitorFact => ({
    environment: env,
    userId,
    revision,
    type: EVENT_TRACKED,
    data: { userId, event, timestamp },
  });
  const expected = (facts: VisitorFact[]): string => {
    let profile: Profile | undefined;
    for (const fact of facts) profile = evolve(profile, fact);
    return JSON.stringify(toView(profile!));
  };
  const checkpoint = () => position(nextPosition++);

  it('starts with no checkpoint and no profiles', async () => {
    expect(await readModel.getCheckpoint()).toBeUndefined();
    expect(await readModel.findProfileJson(env, 'nobody')).toBeUndefined();
  });

  it('folds facts into the same profile the pure fold gives, and stores the checkpoint', async () => {
    const facts = [
      upserted('u1', 0, { plan: 'free', n: 1 }, 1_000),
      tracked('u1', 1, 'Clicked Signup', 5_000),
      tracked('u1', 2, 'Clicked Signup', 2_000),
      tracked('u1', 3, 'Opened', 2_000),
      upserted('u1', 4, { plan: 'enterprise', completed_flow: false }, 9_000, 'a@example.com'),
      tracked('u1', 5, 'Clicked Signup', 7_000),
    ];
    await readModel.apply(facts.slice(0, 3), checkpoint());
    const last = checkpoint();
    await readModel.apply(facts.slice(3), last);
    expect(await readModel.findProfileJson(env, 'u1')).toBe(expected(facts));
    expect(await readModel.getCheckpoint()).toEqual(last);
  });

  it('holds as many attribute and event names per visitor as the pure fold does, the first ones seen', async () => {
    const names = (prefix: string, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i]));
    const facts = [upserted('full', 0, names('a', 999), 1_000), upserted('full', 1, { ...names('b', 3), a0: 'changed' }, 2_000)];
    for (let i = 0; i < 1002; i++) facts.push(tracked('full', 2 + i, `e${i}`, 3_000 + i));
    facts.push(tracked('full', 1004, 'e5', 1));
    await readModel.apply(facts.slice(0, 600), checkpoint());
    await readModel.apply(facts.slice(600), checkpoint());
    const body = (await readModel.findProfileJson(env, 'full'))!;
    expect(body).toBe(expected(facts));
    const view = JSON.parse(body);
    expect([Object.keys(view.attributes).length, view.events.length]).toEqual([1000, 1000]);
  });

  it('ignores redelivered facts, so counts never double', async () => {
    const facts = [upserted('u2', 0, {}, 1), tracked('u2', 1, 'E', 10), tracked('u2', 2, 'E', 20)];
    await readModel.apply(facts, checkpoint());
    await readModel.apply(facts, checkpoint());
    await readModel.apply(facts.slice(1), checkpoint());
    expect(JSON.parse((await readModel.findProfileJson(env, 'u2'))!).events).toEqual([
      { event: 'E', count: 2, createdAt: 10, updatedAt: 20 },
    ]);
  });

  it('keeps visitors and environments apart', async () => {
    const other = `${env}_other`;
    await readModel.apply([upserted('same', 0, { who: 'mine' }, 1)], checkpoint());
    await readModel.apply([{ ...upserted('same', 0, { who: 'theirs' }, 2), environment: other }], checkpoint());
    expect(JSON.parse((await readModel.findProfileJson(env, 'same'))!).attributes).toEqual({ who: 'mine' });
    expect(JSON.parse((await readModel.findProfileJson(other, 'same'))!).attributes).toEqual({ who: 'theirs' });
    expect(await readModel.findProfileJson(env, 'Same')).toBeUndefined();
  });

  it('stores names with dots, dollars and prototype words intact', async () => {
    const attributes = JSON.parse('{"a.b":1,"$set":"x","__proto__":"p","constructor":true,"toString":"t","":"e"}');
    delete attributes[''];
    const facts = [
      upserted('odd', 0, attributes, 1),
      tracked('odd', 1, '__proto__', 3),
      tracked('odd', 2, 'a.b$c', 2),
      tracked('odd', 3, 'constructor', 4),
    ];
    await readModel.apply(facts, checkpoint());
    const json = (await readModel.findProfileJson(env, 'odd'))!;
    expect(json).toBe(expected(facts));
    expect(Object.keys(JSON.parse(json).attributes)).toEqual(['a.b', '$set', '__proto__', 'constructor', 'toString']);
    expect(JSON.parse(json).events.map((e: { event: string }) => e.event)).toEqual(['a.b$c', '__proto__', 'constructor']);
  });

  it('keeps userIds with any characters apart', async () => {
    const ids = ['a/b', 'a b', '100%', '#x', 'ü🙂', 'a-b', 'A'];
    await readModel.apply(ids.map((id, i) => upserted(id, 0, { i }, i)), checkpoint());
    for (const [i, id] of ids.entries()) {
      expect(JSON.parse((await readModel.findProfileJson(env, id))!).attributes).toEqual({ i });
    }
  });

  it('records the checkpoint even when a page holds no visitor fact', async () => {
    const at = checkpoint();
    await readModel.apply([], at);
    expect(await readModel.getCheckpoint()).toEqual(at);
  });

  it('applies many visitors in one page', async () => {
    const facts: VisitorFact[] = [];
    for (let v = 0; v < 300; v++) {
      facts.push(upserted(`v${v}`, 0, { v }, v));
      for (let r = 1; r <= 3; r++) facts.push(tracked(`v${v}`, r, `e${r % 2}`, r * 10));
    }
    await readModel.apply(facts, checkpoint());
    const profile = JSON.parse((await readModel.findProfileJson(env, 'v299'))!);
    expect(profile.events).toEqual([
      { event: 'e1', count: 2, createdAt: 10, updatedAt: 30 },
      { event: 'e0', count: 1, createdAt: 20, updatedAt: 20 },
    ]);
  });

  describe('whole profiles, for rebuilds that fold in memory', () => {
    const fold = (facts: VisitorFact[]): Profile => {
      let profile: Profile | undefined;
      for (const fact of facts) profile = evolve(profile, fact);
      return profile!;
    };

    it('stores a folded profile as the body the facts would give, and loads it back as the same fold state', async () => {
      const attributes = JSON.parse('{"a.b":1,"$set":"x","__proto__":"p","constructor":true,"plan":"free"}');
      const facts = [
        upserted('w1', 0, attributes, 1_000),
        tracked('w1', 1, '__proto__', 5_000),
        tracked('w1', 2, 'a.b$c', 2_000),
        tracked('w1', 3, '__proto__', 1_500),
        upserted('w1', 4, { plan: 'paid' }, 9_000, 'w@example.com'),
      ];
      const profile = fold(facts);
      const at = checkpoint();
      await readModel.saveProfiles([profile, fold([upserted('w2', 0, { n: 2 }, 7)])], at);
      expect(await readModel.findProfileJson(env, 'w1')).toBe(expected(facts));
      expect(await readModel.getCheckpoint()).toEqual(at);

      const [loaded, missing, second] = await readModel.loadProfiles([
        { environment: env, userId: 'w1' },
        { environment: env, userId: 'nobody' },
        { environment: env, userId: 'w2' },
      ]);
      expect(loaded).toEqual(profile);
      expect(JSON.stringify(toView(loaded!))).toBe(JSON.stringify(toView(profile)));
      expect(missing).toBeUndefined();
      expect(second?.attributes).toEqual({ n: 2 });

      // The loaded state folds on as the stored one would.
      const more = tracked('w1', 5, 'a.b$c', 100);
      await readModel.saveProfiles([evolve(loaded, more)], checkpoint());
      expect(await readModel.findProfileJson(env, 'w1')).toBe(expected([...facts, more]));
    });

    it('loads what apply folded, and apply folds on from what was saved', async () => {
      const facts = [upserted('w3', 0, { a: 1 }, 1), tracked('w3', 1, 'E', 10), tracked('w3', 2, 'F', 5)];
      await readModel.apply(facts.slice(0, 2), checkpoint());
      const [applied] = await readModel.loadProfiles([{ environment: env, userId: 'w3' }]);
      expect(applied).toEqual(fold(facts.slice(0, 2)));
      await readModel.saveProfiles([fold(facts)], checkpoint());
      await readModel.apply([...facts, tracked('w3', 3, 'E', 20)], checkpoint());
      expect(await readModel.findProfileJson(env, 'w3')).toBe(expected([...facts, tracked('w3', 3, 'E', 20)]));
    });

    it('saves without touching the checkpoint when given none', async () => {
      const at = checkpoint();
      await readModel.saveProfiles([fold([upserted('w5', 0, { part: 1 }, 1)])], at);
      await readModel.saveProfiles([fold([upserted('w6', 0, { part: 2 }, 1)])]);
      expect(await readModel.getCheckpoint()).toEqual(at);
      expect(JSON.parse((await readModel.findProfileJson(env, 'w6'))!).attributes).toEqual({ part: 2 });
    });

    it('never replaces a profile with one at or below its revision, nor moves the checkpoint backwards', async () => {
      const facts = [upserted('w4', 0, { v: 'old' }, 1), upserted('w4', 1, { v: 'new' }, 2)];
      const ahead = checkpoint();
      await readModel.saveProfiles([fold(facts)], position(ahead.commit + 1000n));
      await readModel.saveProfiles([fold(facts.slice(0, 1))], ahead);
      await readModel.saveProfiles([{ ...fold(facts.slice(0, 1)), revision: 1 }], ahead);
      expect(JSON.parse((await readModel.findProfileJson(env, 'w4'))!).attributes).toEqual({ v: 'new' });
      expect(await readModel.getCheckpoint()).toEqual(position(ahead.commit + 1000n));
      nextPosition += 1000n;
    });
  });

  describe('versions, for rebuilds beside the live one', () => {
    it('builds a new version beside the active one and switches reads to it only once it has caught up', async () => {
      expect((await readModel.versions()).active).toBe(1);
      await readModel.apply([upserted('rb', 0, { from: 'live' }, 1)], checkpoint());
      const liveCheckpoint = (await readModel.getCheckpoint())!;

      const target = await readModel.beginRebuild();
      expect(target).toBe(2);
      expect(await readModel.beginRebuild()).toBe(2);
      expect(await readModel.versions()).toEqual({ active: 1, building: 2 });
      const next = readModel.version(target);
      expect(await next.getCheckpoint()).toBeUndefined();
      expect(await next.findProfileJson(env, 'rb')).toBeUndefined();

      // Behind the live version: the switch is refused and reads stay where they were.
      await next.apply([upserted('rb', 0, { from: 'rebuild' }, 1)], position(liveCheckpoint.commit - 1n));
      expect(await readModel.activate(target)).toBe(false);
      expect(JSON.parse((await readModel.findProfileJson(env, 'rb'))!).attributes).toEqual({ from: 'live' });

      await next.apply([], liveCheckpoint);
      expect(await readModel.activate(target)).toBe(true);
      expect(await readModel.versions()).toEqual({ active: 2 });
      expect(JSON.parse((await readModel.findProfileJson(env, 'rb'))!).attributes).toEqual({ from: 'rebuild' });
      expect(await readModel.getCheckpoint()).toEqual(liveCheckpoint);

      // The live side now writes into the new version; the old one is kept until the next rebuild.
      await readModel.apply([upserted('rb', 1, { more: true }, 2)], checkpoint());
      expect(JSON.parse((await readModel.version(2).findProfileJson(env, 'rb'))!).attributes).toEqual({ from: 'rebuild', more: true });
      expect(JSON.parse((await readModel.version(1).findProfileJson(env, 'rb'))!).attributes).toEqual({ from: 'live' });

      expect(await readModel.beginRebuild()).toBe(3);
      expect(await readModel.version(1).findProfileJson(env, 'rb')).toBeUndefined();
      expect(JSON.parse((await readModel.findProfileJson(env, 'rb'))!).attributes).toEqual({ from: 'rebuild', more: true });
    });

    it('never moves a checkpoint backwards', async () => {
      const { active } = await readModel.versions();
      const ahead = checkpoint();
      await readModel.version(active).apply([], position(ahead.commit + 1000n));
      await readModel.apply([], ahead);
      expect(await readModel.getCheckpoint()).toEqual(position(ahead.commit + 1000n));
      nextPosition += 1000n;
    });
  });
}
