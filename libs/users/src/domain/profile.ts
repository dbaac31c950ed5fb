import { AttributeValue, EVENT_TRACKED, USER_UPSERTED, VisitorFact } from './events';
import { LIMITS } from './limits';
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
 * A profile being folded by its only owner, who may write it in place: its
 * fields, its dictionaries and the event summaries in them.
 */
export type ProfileDraft = Writable<Omit<Profile, 'attributes' | 'events'>> & {
  attributes: Record<string, AttributeValue>;
  events: Record<string, Writable<EventSummary>>;
};

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A draft of `profile` that can be folded without touching `profile`. */
export function draftOf(profile: Profile): ProfileDraft {
  const events = dictionary<EventSummary>();
  for (const name of Object.keys(profile.events)) events[name] = { ...profile.events[name] };
  return { ...profile, attributes: dictionary(profile.attributes), events };
}

/**
 * The fold, stated once: one fact of a visitor's stream written into its
 * draft (a new draft when there is none yet). A fact at or below the revision
 * already folded in changes nothing, which makes at-least-once delivery
 * harmless. A profile holds at most `LIMITS.attributeNamesPerVisitor`
 * attribute names and `LIMITS.eventNamesPerVisitor` event names, the first
 * ones seen: names past them are left out, while those it holds go on
 * changing. Answers the draft.
 */
export function foldInto(draft: ProfileDraft | undefined, fact: VisitorFact): ProfileDraft {
  if (draft === undefined) {
    draft = {
      environment: fact.environment,
      userId: fact.userId,
      revision: -1,
      createdAt: fact.type === USER_UPSERTED ? fact.data.receivedAt : fact.data.timestamp,
      attributes: dictionary(),
      events: dictionary(),
    };
  } else if (fact.revision <= draft.revision) {
    return draft;
  }
  draft.revision = fact.revision;
  if (fact.type === USER_UPSERTED) {
    const given = fact.data.attributes;
    const attributes = draft.attributes;
    // Counted only when a new name comes: most upserts set names the profile already has.
    let names = -1;
    for (const name of Object.keys(given)) {
      if (!(name in attributes)) {
        if (names < 0) names = Object.keys(attributes).length;
        if (names >= LIMITS.attributeNamesPerVisitor) continue;
        names += 1;
      }
      attributes[name] = given[name];
    }
    if (fact.data.emailAddress !== undefined) draft.emailAddress = fact.data.emailAddress;
  } else {
    const { event, timestamp } = fact.data;
    const seen = draft.events[event];
    if (seen) {
      seen.count += 1;
      if (timestamp < seen.createdAt) seen.createdAt = timestamp;
      if (timestamp > seen.updatedAt) seen.updatedAt = timestamp;
    } else if (Object.keys(draft.events).length < LIMITS.eventNamesPerVisitor) {
      draft.events[event] = { count: 1, createdAt: timestamp, updatedAt: timestamp };
    }
  }
  return draft;
}

/** The next state of a visitor given one fact of its stream. Pure. */
export function evolve(profile: Profile | undefined, fact: VisitorFact): Profile {
  return evolveAll(profile, [fact])!;
}

/**
 * The fold over a run of facts of one visitor, in stream order. Pure: the
 * dictionaries are copied once for the whole run, not once per fact, and the
 * copy is private until returned. Answers `profile` itself when no fact is new.
 */
export function evolveAll(profile: Profile | undefined, facts: readonly VisitorFact[]): Profile | undefined {
  let draft: ProfileDraft | undefined;
  for (const fact of facts) {
    if (draft === undefined) {
      if (profile && fact.revision <= profile.revision) continue;
      draft = profile && draftOf(profile);
    }
    draft = foldInto(draft, fact);
  }
  return draft ?? profile;
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

/**
 * The fold state as SQLite rows kept it beside the body before bodies alone
 * were stored; `reviveProfile` still reads such rows. Nothing writes it now
 * but tests that make one.
 */
export function serializeProfile(profile: Profile): string {
  return JSON.stringify(profile);
}

/**
 * The fold state of a visitor from its GET body (`toView`) and the key and
 * revision stored beside it: the body holds everything the fold needs, so a
 * read model need not keep a second serialization of the same profile. Event
 * names come back in the body's order rather than first-seen order, which
 * `toView` sorts away. A fresh draft, owned by the caller.
 */
export function reviveFromBody(body: string, key: { environment: string; userId: string }, revision: number): ProfileDraft {
  const view = JSON.parse(body) as UserProfileView;
  const events = dictionary<Writable<EventSummary>>();
  for (const { event, count, createdAt, updatedAt } of view.events) events[event] = { count, createdAt, updatedAt };
  const draft: ProfileDraft = {
    environment: key.environment,
    userId: key.userId,
    revision,
    createdAt: view.createdAt,
    attributes: dictionary(view.attributes),
    events,
  };
  if (view.emailAddress !== undefined) draft.emailAddress = view.emailAddress;
  return draft;
}

/** A fresh draft, owned by the caller. */
export function reviveProfile(text: string): ProfileDraft {
  // Everything in it was just parsed: only the dictionaries need to lose their prototype.
  const raw = JSON.parse(text) as ProfileDraft;
  return { ...raw, attributes: dictionary(raw.attributes), events: dictionary(raw.events) };
}
