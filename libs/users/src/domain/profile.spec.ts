import { EVENT_TRACKED, USER_UPSERTED, VisitorFact } from './events';
import { Profile, evolve, reviveFromBody, reviveProfile, serializeProfile, toView } from './profile';
import { visitorId } from './visitor-id';

const env = 'development';
const userId = 'a926111b-fa62-49f7-8666-2c94ca8b18fc';

function upserted(revision: number, receivedAt: number, attributes: Record<string, string | number | boolean> = {}, emailAddress?: string): VisitorFact {
  return { environment: env, userId, revision, type: USER_UPSERTED, data: { userId, receivedAt, attributes, ...(emailAddress ? { emailAddress } : {}) } };
}
function tracked(revision: number, event: string, timestamp: number): VisitorFact {
  return { environment: env, userId, revision, type: EVENT_TRACKED, data: { userId, event, timestamp } };
}

/** Given these facts, the profile view is... */
function given(...facts: VisitorFact[]) {
  const profile = facts.reduce<Profile | undefined>(evolve, undefined);
  return { profile: profile!, view: toView(profile!) };
}

describe('evolve', () => {
  it('reproduces the seed example', () => {
    const { view } = given(
      upserted(0, 1612739790947, { plan: 'enterprise', completed_flow: false }),
      tracked(1, 'Clicked Signup', 1612739790947),
    );
    expect(view).toEqual({
      id: visitorId(env, userId),
      createdAt: 1612739790947,
      attributes: { plan: 'enterprise', completed_flow: false },
      events: [{ event: 'Clicked Signup', count: 1, createdAt: 1612739790947, updatedAt: 1612739790947 }],
    });
    expect(Object.keys(view)).toEqual(['id', 'createdAt', 'attributes', 'events']);
  });

  it('counts every instance and keeps the earliest and latest timestamps, whatever the arrival order', () => {
    const { view } = given(
      upserted(0, 100),
      tracked(1, 'Clicked Signup', 5000),
      tracked(2, 'Clicked Signup', 1000),
      tracked(3, 'Clicked Signup', 9000),
      tracked(4, 'Clicked Signup', 3000),
    );
    expect(view.events).toEqual([{ event: 'Clicked Signup', count: 4, createdAt: 1000, updatedAt: 9000 }]);
  });

  it('orders events by first occurrence, then by name', () => {
    const { view } = given(upserted(0, 1), tracked(1, 'b', 20), tracked(2, 'c', 10), tracked(3, 'a', 20), tracked(4, 'c', 30));
    expect(view.events.map((e) => e.event)).toEqual(['c', 'a', 'b']);
  });

  it('keeps every attribute ever set, each with its latest value in stream order', () => {
    const { view } = given(
      upserted(0, 1, { plan: 'free', seats: 1, trial: true }),
      upserted(1, 2, { plan: 'enterprise' }),
      upserted(2, 3, { seats: 10, trial: false }),
    );
    expect(view.attributes).toEqual({ plan: 'enterprise', seats: 10, trial: false });
  });

  it('holds the first 1000 attribute names and the first 1000 event names, and goes on changing those', () => {
    const many = (prefix: string, n: number, value: string | number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, value]));
    const facts: VisitorFact[] = [upserted(0, 1, many('a', 998, 0)), upserted(1, 2, { ...many('b', 5, 1), a0: 'changed' })];
    for (let i = 0; i < 1003; i++) facts.push(tracked(2 + i, `e${i}`, 10 + i));
    facts.push(tracked(1005, 'e0', 5_000), tracked(1006, 'e1002', 6_000));
    const { view } = given(...facts);
    // 998 names, then room for two of the five new ones, in the order given.
    expect(Object.keys(view.attributes)).toHaveLength(1000);
    expect(Object.keys(view.attributes).slice(-3)).toEqual(['a997', 'b0', 'b1']);
    expect(view.attributes.a0).toBe('changed');
    expect(view.events).toHaveLength(1000);
    expect(view.events[view.events.length - 1].event).toBe('e999');
    expect(view.events[0]).toEqual({ event: 'e0', count: 2, createdAt: 10, updatedAt: 5_000 });
  });

  it('takes createdAt from the first upsert and never moves it', () => {
    const { view } = given(upserted(0, 500), upserted(1, 100), tracked(2, 'x', 1));
    expect(view.createdAt).toBe(500);
  });

  it('adds emailAddress only once one was set, and keeps the latest', () => {
    expect('emailAddress' in given(upserted(0, 1)).view).toBe(false);
    const { view } = given(upserted(0, 1, {}, 'a@example.com'), upserted(1, 2), upserted(2, 3, {}, 'b@example.com'));
    expect(view.emailAddress).toBe('b@example.com');
    expect(Object.keys(view)).toEqual(['id', 'createdAt', 'attributes', 'events', 'emailAddress']);
  });

  it('ignores a fact at or below the revision already applied', () => {
    const once = given(upserted(0, 1), tracked(1, 'e', 10), tracked(2, 'e', 20));
    const again = [tracked(1, 'e', 10), tracked(2, 'e', 20), upserted(0, 1, { late: true })].reduce(evolve, once.profile);
    expect(again).toBe(once.profile);
    expect(toView(again).events[0].count).toBe(2);
  });

  it('does not change the profile it is given', () => {
    const { profile } = given(upserted(0, 1, { a: 1 }), tracked(1, 'e', 10));
    const frozen = JSON.stringify(profile);
    evolve(profile, upserted(2, 2, { a: 2, b: 3 }));
    evolve(profile, tracked(2, 'e', 5));
    expect(JSON.stringify(profile)).toBe(frozen);
  });

  it('treats __proto__ and constructor as plain names', () => {
    const attributes = JSON.parse('{"__proto__":"p","constructor":1,"a.b":true,"$x":"y"}');
    const { view, profile } = given(upserted(0, 1, attributes), tracked(1, '__proto__', 5), tracked(2, 'constructor', 6));
    expect(Object.keys(view.attributes)).toEqual(['__proto__', 'constructor', 'a.b', '$x']);
    expect(view.events.map((e) => [e.event, e.count])).toEqual([['__proto__', 1], ['constructor', 1]]);
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    const revived = reviveProfile(serializeProfile(profile));
    expect(JSON.stringify(toView(revived))).toBe(JSON.stringify(view));
  });

  it('reads the fold state back from the body alone, and folds on from it as from the profile', () => {
    const attributes = JSON.parse('{"__proto__":"p","constructor":1,"plan":"free"}');
    const facts = [upserted(0, 10, attributes, 'e@example.com'), tracked(1, 'late', 30), tracked(2, 'early', 5), tracked(3, '__proto__', 7)];
    const { profile, view } = given(...facts);
    const revived = reviveFromBody(JSON.stringify(view), { environment: env, userId }, profile.revision);
    expect(revived).toEqual(profile);
    expect(JSON.stringify(toView(revived))).toBe(JSON.stringify(view));
    const more = [tracked(4, 'late', 1), upserted(5, 99, { plan: 'paid', n: 2 }), tracked(6, 'new', 0)];
    const onward = more.reduce<Profile>(evolve, revived);
    expect(JSON.stringify(toView(onward))).toBe(JSON.stringify(given(...facts, ...more).view));
    // A fact already folded in is still a no-op: the revision came back from beside the body.
    expect(evolve(revived, tracked(3, '__proto__', 7))).toBe(revived);
    const bare = given(upserted(0, 1));
    expect(reviveFromBody(JSON.stringify(bare.view), { environment: env, userId }, 0)).toEqual(bare.profile);
  });

  it('gives the same view after a round trip through storage', () => {
    const { profile, view } = given(upserted(0, 1, { a: 'x' }, 'e@example.com'), tracked(1, 'e', 3), tracked(2, 'f', 2));
    const revived = reviveProfile(serializeProfile(profile));
    expect(toView(revived)).toEqual(view);
    expect(toView(evolve(revived, tracked(3, 'e', 1))).events[0]).toEqual({ event: 'e', count: 2, createdAt: 1, updatedAt: 3 });
  });
});

describe('visitorId', () => {
  it('is a version 5 UUID, stable for (environment, userId) and distinct otherwise', () => {
    const id = visitorId('production', 'u1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(visitorId('production', 'u1')).toBe(id);
    expect(visitorId('development', 'u1')).not.toBe(id);
    expect(visitorId('production', 'u2')).not.toBe(id);
  });

  it('is pinned: a changed derivation would change every public id after a rebuild', () => {
    // Python: uuid.uuid5(uuid.UUID('6f1b7c1e9a8d4e2fb3c05d7a2e94c811'), 'production\x00u1')
    expect(visitorId('production', 'u1')).toBe('bc2f5ac1-0b9f-5b6c-8246-d44e9c81466b');
  });
});
