import type { AnyBulkWriteOperation, Document } from 'mongodb';
import {
  AttributeValue,
  EVENT_TRACKED,
  EventSummary,
  LIMITS,
  Profile,
  USER_UPSERTED,
  VisitorFact,
  dictionary,
  visitorId,
} from '@visitorbase/users/domain';

/**
 * One visitor, as stored in MongoDB. Attribute and event names are values,
 * never field names: a name may contain `.` or `$` or be `__proto__`, which
 * update operators and field paths cannot address. Arrays keep the order in
 * which names first appeared, which is the order of the rendered body.
 */
export interface VisitorDocument {
  /** The public visitor id, derived from (environment, userId). */
  _id: string;
  environment: string;
  userId: string;
  /** Stream revision of the last fact applied; -1 while the document only exists. */
  revision: number;
  createdAt?: number;
  attributes?: AttributeEntry[];
  emailAddress?: string;
  events?: EventEntry[];
}

export interface AttributeEntry {
  k: string;
  v: AttributeValue;
}

export interface EventEntry {
  k: string;
  count: number;
  createdAt: number;
  updatedAt: number;
}

export type VisitorWrite = AnyBulkWriteOperation<VisitorDocument>;

/**
 * The writes that fold a page of facts, in order. Each visitor's document is
 * first created if missing; then every fact is one update guarded by the
 * revision, so a fact at or below what the document already holds matches
 * nothing and changes nothing. The guarded updates never upsert: an upsert
 * whose guard fails would try to insert a second document for the visitor.
 */
export function pageWrites(facts: readonly VisitorFact[]): VisitorWrite[] {
  const writes: VisitorWrite[] = [];
  const seen = new Set<string>();
  for (const fact of facts) {
    const key = `${fact.environment}\u0000${fact.userId}`;
    if (!seen.has(key)) {
      seen.add(key);
      writes.push(ensureDocument(fact.environment, fact.userId));
    }
    writes.push(factUpdate(fact));
  }
  return writes;
}

/**
 * Found by `_id`, the unique index two projectors racing to create the same
 * visitor collide on: MongoDB retries such an upsert itself only when its
 * filter is an equality on the index that refused it, where a filter on
 * environment and userId failed the page (until its back-off ran out).
 */
export function ensureDocument(environment: string, userId: string): VisitorWrite {
  return {
    updateOne: {
      filter: { _id: visitorId(environment, userId) },
      update: { $setOnInsert: { environment, userId, revision: -1 } },
      upsert: true,
    },
  };
}

/**
 * One fact as one update pipeline, applied only if the document's revision
 * is below the fact's. Every string that comes from a client is wrapped in
 * `$literal`, so a value such as `"$set"` is never read as a field path.
 */
export function factUpdate(fact: VisitorFact): VisitorWrite {
  const filter = { environment: fact.environment, userId: fact.userId, revision: { $lt: fact.revision } };
  switch (fact.type) {
    case USER_UPSERTED: {
      const { receivedAt, attributes, emailAddress } = fact.data;
      const set: Document = { revision: fact.revision, createdAt: { $ifNull: ['$createdAt', receivedAt] } };
      const entries = Object.keys(attributes).map((k): AttributeEntry => ({ k, v: attributes[k] }));
      if (entries.length > 0) set.attributes = mergeAttributes(entries);
      if (emailAddress !== undefined) set.emailAddress = { $literal: emailAddress };
      return { updateOne: { filter, update: [{ $set: set }] } };
    }
    case EVENT_TRACKED: {
      const { event, timestamp } = fact.data;
      const set: Document = {
        revision: fact.revision,
        createdAt: { $ifNull: ['$createdAt', timestamp] },
        events: countEvent(event, timestamp),
      };
      return { updateOne: { filter, update: [{ $set: set }] } };
    }
  }
}

/**
 * Attributes already there keep their place and take the new value; new ones
 * are appended in the order given, as many as the profile has room for
 * (`LIMITS.attributeNamesPerVisitor`), as `foldInto` does.
 */
function mergeAttributes(incoming: AttributeEntry[]): Document {
  return {
    $let: {
      vars: { current: { $ifNull: ['$attributes', []] }, incoming: { $literal: incoming } },
      in: {
        $let: {
          vars: {
            added: { $filter: { input: '$$incoming', as: 'entry', cond: { $not: [{ $in: ['$$entry.k', '$$current.k'] }] } } },
            room: { $subtract: [LIMITS.attributeNamesPerVisitor, { $size: '$$current' }] },
          },
          in: {
            $concatArrays: [
              {
                $map: {
                  input: '$$current',
                  as: 'entry',
                  in: {
                    $let: {
                      vars: { at: { $indexOfArray: ['$$incoming.k', '$$entry.k'] } },
                      in: { $cond: [{ $eq: ['$$at', -1] }, '$$entry', { $arrayElemAt: ['$$incoming', '$$at'] }] },
                    },
                  },
                },
              },
              // $slice takes no count of 0: no room is no slice.
              { $cond: [{ $gt: ['$$room', 0] }, { $slice: ['$$added', '$$room'] }, []] },
            ],
          },
        },
      },
    },
  };
}

/**
 * An event name seen before gets its count incremented and its first and
 * last timestamps widened (`$add`, `$min`, `$max`); a new one is appended
 * with a count of one.
 */
function countEvent(name: string, timestamp: number): Document {
  const literalName = { $literal: name };
  return {
    $let: {
      vars: { current: { $ifNull: ['$events', []] } },
      in: {
        $cond: [
          { $in: [literalName, '$$current.k'] },
          {
            $map: {
              input: '$$current',
              as: 'entry',
              in: {
                $cond: [
                  { $eq: ['$$entry.k', literalName] },
                  {
                    k: '$$entry.k',
                    count: { $add: ['$$entry.count', 1] },
                    createdAt: { $min: ['$$entry.createdAt', timestamp] },
                    updatedAt: { $max: ['$$entry.updatedAt', timestamp] },
                  },
                  '$$entry',
                ],
              },
            },
          },
          {
            // A new name, while the profile has room for one (`LIMITS.eventNamesPerVisitor`), as `foldInto` does.
            $cond: [
              { $lt: [{ $size: '$$current' }, LIMITS.eventNamesPerVisitor] },
              { $concatArrays: ['$$current', [{ k: literalName, count: 1, createdAt: timestamp, updatedAt: timestamp }]] },
              '$$current',
            ],
          },
        ],
      },
    },
  };
}

/** A whole profile as its document, names in the profile's order; `toProfile` reads it back. */
export function toDocument(profile: Profile): VisitorDocument {
  const { attributes, events } = profile;
  const doc: VisitorDocument = {
    _id: visitorId(profile.environment, profile.userId),
    environment: profile.environment,
    userId: profile.userId,
    revision: profile.revision,
    createdAt: profile.createdAt,
    attributes: Object.keys(attributes).map((k): AttributeEntry => ({ k, v: attributes[k] })),
    events: Object.keys(events).map((k): EventEntry => ({ k, ...events[k] })),
  };
  if (profile.emailAddress !== undefined) doc.emailAddress = profile.emailAddress;
  return doc;
}

/** The stored document as the profile the pure fold would have produced. */
export function toProfile(doc: VisitorDocument): Profile {
  const attributes = dictionary<AttributeValue>();
  for (const { k, v } of doc.attributes ?? []) attributes[k] = v;
  const events = dictionary<EventSummary>();
  for (const { k, count, createdAt, updatedAt } of doc.events ?? []) events[k] = { count, createdAt, updatedAt };
  return {
    environment: doc.environment,
    userId: doc.userId,
    revision: doc.revision,
    createdAt: doc.createdAt ?? 0,
    attributes,
    ...(doc.emailAddress !== undefined ? { emailAddress: doc.emailAddress } : {}),
    events,
  };
}
