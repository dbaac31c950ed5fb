import type { Document } from 'mongodb';
import { EVENT_TRACKED, Profile, USER_UPSERTED, VisitorFact, evolve, toView, visitorId } from '@visitorbase/users/domain';
import { VisitorDocument, VisitorWrite, ensureDocument, factUpdate, pageWrites, toDocument, toProfile } from './visitor-document';

const environment = 'development';

function upserted(userId: string, revision: number, attributes: Record<string, string | number | boolean>, receivedAt: number, emailAddress?: string): VisitorFact {
  return { environment, userId, revision, type: USER_UPSERTED, data: { userId, receivedAt, attributes, ...(emailAddress ? { emailAddress } : {}) } };
}

function tracked(userId: string, revision: number, event: string, timestamp: number): VisitorFact {
  return { environment, userId, revision, type: EVENT_TRACKED, data: { userId, event, timestamp } };
}

function updateOf(write: VisitorWrite) {
  if (!('updateOne' in write)) throw new Error('expected an updateOne');
  return write.updateOne;
}

describe('MongoDB visitor documents', () => {
  it('creates a missing document without touching an existing one', () => {
    expect(ensureDocument(environment, 'u-1')).toEqual({
      updateOne: {
        filter: { _id: visitorId(environment, 'u-1') },
        update: { $setOnInsert: { environment, userId: 'u-1', revision: -1 } },
        upsert: true,
      },
    });
  });

  it('guards every fact by the revision and never upserts it', () => {
    for (const fact of [upserted('u', 3, { a: 1 }, 10), tracked('u', 3, 'E', 10)]) {
      const updateOne = updateOf(factUpdate(fact));
      expect(updateOne.filter).toEqual({ environment, userId: 'u', revision: { $lt: 3 } });
      expect(updateOne.upsert).toBeUndefined();
    }
  });

  it('merges attributes in place and appends new ones in the order given, while there is room, every client string literal', () => {
    const attributes = JSON.parse('{"plan":"$set","a.b":1,"__proto__":true}');
    const [stage] = updateOf(factUpdate(upserted('u', 0, attributes, 1_000, 'a@example.com'))).update as Document[];
    const { attributes: merge, ...rest } = stage.$set;
    expect(rest).toEqual({ revision: 0, createdAt: { $ifNull: ['$createdAt', 1_000] }, emailAddress: { $literal: 'a@example.com' } });
    // Every name and value the client sent is in one literal: never read as a field path or an operator.
    expect(merge.$let.vars.incoming).toEqual({
      $literal: [
        { k: 'plan', v: '$set' },
        { k: 'a.b', v: 1 },
        { k: '__proto__', v: true },
      ],
    });
    // Names already there take their new value in place; new ones fill what room is left of 1000.
    const { vars, in: merged } = merge.$let.in.$let;
    expect(vars.room).toEqual({ $subtract: [1000, { $size: '$$current' }] });
    expect(merged.$concatArrays[0].$map.input).toBe('$$current');
    expect(merged.$concatArrays[1]).toEqual({ $cond: [{ $gt: ['$$room', 0] }, { $slice: ['$$added', '$$room'] }, []] });
  });

  it('leaves attributes and email alone when an upsert brings none', () => {
    const updateOne = updateOf(factUpdate(upserted('u', 1, {}, 5)));
    expect(updateOne.update).toEqual([{ $set: { revision: 1, createdAt: { $ifNull: ['$createdAt', 5] } } }]);
  });

  it('counts a tracked event, widening its first and last timestamps, or appends it while there is room', () => {
    const [stage] = updateOf(factUpdate(tracked('u', 2, '$a.b', 7_000))).update as Document[];
    const { events, ...rest } = stage.$set;
    expect(rest).toEqual({ revision: 2, createdAt: { $ifNull: ['$createdAt', 7_000] } });
    const name = { $literal: '$a.b' };
    const [known, counted, added] = events.$let.in.$cond;
    expect(known).toEqual({ $in: [name, '$$current.k'] });
    expect(counted.$map.in.$cond[1]).toEqual({
      k: '$$entry.k',
      count: { $add: ['$$entry.count', 1] },
      createdAt: { $min: ['$$entry.createdAt', 7_000] },
      updatedAt: { $max: ['$$entry.updatedAt', 7_000] },
    });
    // A new name only while the profile holds fewer than 1000.
    expect(added).toEqual({
      $cond: [
        { $lt: [{ $size: '$$current' }, 1000] },
        { $concatArrays: ['$$current', [{ k: name, count: 1, createdAt: 7_000, updatedAt: 7_000 }]] },
        '$$current',
      ],
    });
  });

  it('writes a page as: each visitor created before its first fact, then its facts in stream order', () => {
    const facts = [upserted('a', 0, {}, 1), upserted('b', 0, {}, 1), tracked('a', 1, 'E', 2), tracked('b', 1, 'E', 2)];
    const writes = pageWrites(facts);
    expect(writes).toEqual([
      ensureDocument(environment, 'a'),
      factUpdate(facts[0]),
      ensureDocument(environment, 'b'),
      factUpdate(facts[1]),
      factUpdate(facts[2]),
      factUpdate(facts[3]),
    ]);
    expect(pageWrites([])).toEqual([]);
  });

  describe('toProfile', () => {
    function fold(facts: VisitorFact[]): Profile {
      return facts.reduce<Profile | undefined>(evolve, undefined)!;
    }

    it('renders a stored document exactly as the pure fold renders the same facts', () => {
      const facts = [
        upserted('odd', 0, JSON.parse('{"b":1,"10":"ten","2":"two","__proto__":"p","$set":"x","a.b":false}'), 1_000, 'a@example.com'),
        tracked('odd', 1, '__proto__', 3_000),
        tracked('odd', 2, 'a.b$c', 2_000),
        tracked('odd', 3, '__proto__', 1_500),
        upserted('odd', 4, { b: 'changed', c: 3 }, 9_000),
      ];
      // The document those five updates leave: names in order of first appearance, values as last set.
      const doc: VisitorDocument = {
        _id: visitorId(environment, 'odd'),
        environment,
        userId: 'odd',
        revision: 4,
        createdAt: 1_000,
        attributes: [
          { k: '2', v: 'two' },
          { k: '10', v: 'ten' },
          { k: 'b', v: 'changed' },
          { k: '__proto__', v: 'p' },
          { k: '$set', v: 'x' },
          { k: 'a.b', v: false },
          { k: 'c', v: 3 },
        ],
        emailAddress: 'a@example.com',
        events: [
          { k: '__proto__', count: 2, createdAt: 1_500, updatedAt: 3_000 },
          { k: 'a.b$c', count: 1, createdAt: 2_000, updatedAt: 2_000 },
        ],
      };
      expect(JSON.stringify(toView(toProfile(doc)))).toBe(JSON.stringify(toView(fold(facts))));
      expect(Object.getPrototypeOf(toProfile(doc).attributes)).toBeNull();
    });

    it('stores a whole profile as a document that reads back as the same profile, names and order intact', () => {
      const attributes = JSON.parse('{"a.b":1,"$set":"x","__proto__":"p","plan":"free"}');
      const facts = [upserted('whole', 0, attributes, 1_000, 'w@example.com'), tracked('whole', 1, '__proto__', 3_000), tracked('whole', 2, '$x', 2_000)];
      const profile = fold(facts);
      const doc = toDocument(profile);
      expect(doc._id).toBe(visitorId(environment, 'whole'));
      expect(doc.attributes).toEqual([
        { k: 'a.b', v: 1 },
        { k: '$set', v: 'x' },
        { k: '__proto__', v: 'p' },
        { k: 'plan', v: 'free' },
      ]);
      expect(toProfile(doc)).toEqual(profile);
      expect(JSON.stringify(toView(toProfile(doc)))).toBe(JSON.stringify(toView(profile)));
      expect(toDocument(fold([upserted('bare', 0, {}, 5)]))).not.toHaveProperty('emailAddress');
    });

    it('renders a visitor without attributes, events or email', () => {
      const doc: VisitorDocument = { _id: 'x', environment, userId: 'bare', revision: 0, createdAt: 5 };
      expect(JSON.stringify(toView(toProfile(doc)))).toBe(JSON.stringify(toView(fold([upserted('bare', 0, {}, 5)]))));
    });
  });
});
