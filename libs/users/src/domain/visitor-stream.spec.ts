import fc from 'fast-check';
import { VISITOR_STREAM_PREFIX, parseVisitorStream, visitorStream } from './visitor-stream';

const environments = fc.stringMatching(/^[A-Za-z0-9_]{1,64}$/);
/** Any userId at all: dashes, the prefix itself, separators, astral characters. */
const userIds = fc.oneof(
  fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }),
  fc.constantFrom('-', '--', 'a-b', '-a', 'a-', 'visitor-x-y', 'development-u', '$all', ' ', '\u0000', '🙂-🙂'),
);

describe('visitor streams', () => {
  it('names one stream per visitor per environment', () => {
    expect(visitorStream({ environment: 'development', userId: 'a-b' })).toBe('visitor-development-a-b');
    expect(visitorStream({ environment: 'production', userId: 'a-b' })).not.toBe(
      visitorStream({ environment: 'development', userId: 'a-b' }),
    );
  });

  it('turns every stream name back into the environment and userId it was made of', () => {
    fc.assert(
      fc.property(environments, userIds, (environment, userId) => {
        expect(parseVisitorStream(visitorStream({ environment, userId }))).toEqual({ environment, userId });
      }),
    );
  });

  it('never gives two visitors the same stream', () => {
    fc.assert(
      fc.property(environments, userIds, environments, userIds, (e1, u1, e2, u2) => {
        fc.pre(e1 !== e2 || u1 !== u2);
        expect(visitorStream({ environment: e1, userId: u1 })).not.toBe(visitorStream({ environment: e2, userId: u2 }));
      }),
    );
  });

  it('starts every name with the prefix the projector subscribes to', () => {
    fc.assert(
      fc.property(environments, userIds, (environment, userId) => {
        expect(visitorStream({ environment, userId }).startsWith(VISITOR_STREAM_PREFIX)).toBe(true);
      }),
    );
  });

  it('refuses environments that would make a name ambiguous', () => {
    for (const environment of ['', 'dev-eu', 'dev eu', 'x'.repeat(65), 'é']) {
      expect(() => visitorStream({ environment, userId: 'u' })).toThrow(/invalid environment/);
    }
  });

  it('reads other streams as no visitor', () => {
    for (const stream of ['visitor-', 'visitor-development', 'visitor-development-', 'visitor--u', 'visitor-dev eu-u', '$all', 'other-development-u']) {
      expect(parseVisitorStream(stream)).toBeUndefined();
    }
  });
});
