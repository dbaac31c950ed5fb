import fc from 'fast-check';
import { EVENT_TRACKED, USER_UPSERTED, VisitorFact } from './events';
import { Profile, evolve, evolveAll, serializeProfile } from './profile';

const env = 'development';
const userId = 'visitor-1';
const name = fc.constantFrom('a', 'b', 'plan', '__proto__', 'constructor', 'toString', 'x y', '');
const value = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.boolean());
const fact: fc.Arbitrary<VisitorFact> = fc.oneof(
  fc.record({
    revision: fc.integer({ min: 0, max: 30 }),
    receivedAt: fc.integer({ min: 0, max: 1000 }),
    attributes: fc.dictionary(name, value, { maxKeys: 3 }),
    emailAddress: fc.option(fc.constantFrom('a@example.com', 'b@example.com'), { nil: undefined }),
  }).map(({ revision, receivedAt, attributes, emailAddress }): VisitorFact => ({
    environment: env,
    userId,
    revision,
    type: USER_UPSERTED,
    data: { userId, receivedAt, attributes, ...(emailAddress !== undefined ? { emailAddress } : {}) },
  })),
  fc.record({ revision: fc.integer({ min: 0, max: 30 }), event: name, timestamp: fc.integer({ min: 0, max: 1000 }) }).map(
    ({ revision, event, timestamp }): VisitorFact => ({ environment: env, userId, revision, type: EVENT_TRACKED, data: { userId, event, timestamp } }),
  ),
);
/** Revisions mostly increasing, as a stream delivers them, with repeats and stale ones as redelivery does. */
const run = fc.array(fact, { maxLength: 12 });

describe('evolveAll', () => {
  it('folds a run at once as it folds its facts one by one, to the order of keys, from any state', () => {
    fc.assert(
      fc.property(run, run, (before, facts) => {
        const start = before.reduce<Profile | undefined>(evolve, undefined);
        const expected = facts.reduce<Profile | undefined>((p, f) => evolve(p, f), start);
        const actual = evolveAll(start, facts);
        expect(actual).toEqual(expected);
        expect(actual === undefined ? undefined : serializeProfile(actual)).toEqual(
          expected === undefined ? undefined : serializeProfile(expected),
        );
        // Nothing new: the very same object, so callers can skip the write.
        if (expected === start) expect(actual).toBe(start);
      }),
      { numRuns: 5000 },
    );
  });

  it('leaves the profile it was given untouched', () => {
    const start = evolve(undefined, { environment: env, userId, revision: 0, type: EVENT_TRACKED, data: { userId, event: 'a', timestamp: 5 } });
    const snapshot = serializeProfile(start);
    evolveAll(start, [
      { environment: env, userId, revision: 1, type: EVENT_TRACKED, data: { userId, event: 'a', timestamp: 1 } },
      { environment: env, userId, revision: 2, type: USER_UPSERTED, data: { userId, receivedAt: 9, attributes: { plan: 'x' } } },
    ]);
    expect(serializeProfile(start)).toBe(snapshot);
  });
});
