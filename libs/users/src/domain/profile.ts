import { AttributeValue, EVENT_TRACKED, USER_UPSERTED, VisitorFact } from './events';
import { visitorId } from './visitor-id';

export interface EventSummary {
  readonly count: number;
  /** Earliest timestamp seen for the event name. */
  readonly createdAt: number;
  /** Latest timestamp seen for the event name. */
  readonly updatedAt: number;
}

/**
 * The aggregated state of one visitor. Dictionaries have no prototype, so an
 * attribute or event named `__proto__` or `constructor` is plain data.
 */
export interface Profile {
  readonly environment: string;
  readonly userId: string;
  /** Revision of the last stream event folded in. */
  readonly revision: number;
  readonly createdAt: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly emailAddress?: string;
  readonly events: Readonly<Record<string, EventSummary>>;
}

/** The body of GET /v2/users/:userId. */
export interface UserProfileView {
  id: string;
  createdAt: number;
  attributes: Record<string, AttributeValue>;
  events: Array<{ event: string; count: number; createdAt: number; updatedAt: number }>;
  emailAddress?: string;
}

export function dictionary<T>(entries?: Readonly<Record<string, T>>): Record<string, T> {
  const dict = Object.create(null) as Record<string, T>;
  if (entries) for (const key of Object.keys(entries)) dict[key] = entries[key];
  return dict;
}

/**
 * The fold: the next state of a visitor given one fact of its stream. Pure.
 * A fact at or below the revision already folded in changes nothing, which
 * makes at-least-once delivery harmless.
 */
export function evolve(profile: Profile | undefined, fact: VisitorFact): Profile {
  // A fact is a run of one: the fold is stated once, in evolveAll.
  return evolveAll(profile, [fact])!;
}

/**
 * The fold over a run of facts of one visitor, in stream order. Each
 * dictionary is copied once for the whole run instead of once per fact, so
 * folding a page of a visitor's facts does not copy all its attributes or
 * event names per fact. Pure: the copies are private until returned.
 * Answers `profile` itself when no fact is new.
 */
export function evolveAll(profile: Profile | undefined, facts: readonly VisitorFact[]): Profile | undefined {
  let start = profile;
  let revision = profile?.revision ?? -1;
  let attributes: Record<string, AttributeValue> | undefined;
  let events: Record<string, EventSummary> | undefined;
  let emailAddress: string | undefined;
  let changed = false;
  for (const fact of facts) {
    if (start && fact.revision <= revision) continue;
    if (!start) {
      start = {
        environment: fact.environment,
        userId: fact.userId,
        revision: -1,
        createdAt: fact.type === USER_UPSERTED ? fact.data.receivedAt : fact.data.timestamp,
        attributes: dictionary(),
        events: dictionary(),
      };
    }
    changed = true;
    revision = fact.revision;
    if (fact.type === USER_UPSERTED) {
      const given = fact.data.attributes;
      const names = Object.keys(given);
      if (names.length > 0) {
        attributes ??= dictionary(start.attributes);
        for (const name of names) attributes[name] = given[name];
      }
      if (fact.data.emailAddress !== undefined) emailAddress = fact.data.emailAddress;
    } else {
      const { event, timestamp } = fact.data;
      events ??= dictionary(start.events);
      const seen = events[event];
      events[event] = seen
        ? {
            count: seen.count + 1,
            createdAt: Math.min(seen.createdAt, timestamp),
            updatedAt: Math.max(seen.updatedAt, timestamp),
          }
        : { count: 1, createdAt: timestamp, updatedAt: timestamp };
    }
  }
  if (!changed || !start) return profile;
  const next: Profile = {
    ...start,
    revision,
    attributes: attributes ?? start.attributes,
    events: events ?? start.events,
  };
  return emailAddress === undefined ? next : { ...next, emailAddress };
}

/** Events ordered by first occurrence, then by name. */
export function toView(profile: Profile): UserProfileView {
  const names = Object.keys(profile.events).sort((a, b) => {
    const byTime = profile.events[a].createdAt - profile.events[b].createdAt;
    return byTime !== 0 ? byTime : a < b ? -1 : a > b ? 1 : 0;
  });
  const view: UserProfileView = {
    id: visitorId(profile.environment, profile.userId),
    createdAt: profile.createdAt,
    attributes: profile.attributes as Record<string, AttributeValue>,
    events: names.map((event) => ({ event, ...profile.events[event] })),
  };
  if (profile.emailAddress !== undefined) view.emailAddress = profile.emailAddress;
  return view;
}

/** Stored form of a profile; `reviveProfile` reads it back. */
export function serializeProfile(profile: Profile): string {
  return JSON.stringify(profile);
}

export function reviveProfile(text: string): Profile {
  const raw = JSON.parse(text) as Profile;
  return { ...raw, attributes: dictionary(raw.attributes), events: dictionary(raw.events) };
}
