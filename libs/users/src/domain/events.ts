/** What the write side appends to a visitor's stream. */

export type AttributeValue = string | number | boolean;

export const USER_UPSERTED = 'UserUpserted';
export const EVENT_TRACKED = 'EventTracked';

export interface UserUpsertedData {
  readonly userId: string;
  /** Milliseconds at which the request was received. */
  readonly receivedAt: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly emailAddress?: string;
}

export interface EventTrackedData {
  readonly userId: string;
  readonly event: string;
  /** Milliseconds: the client's timestamp, or when the request was received. */
  readonly timestamp: number;
}

export type VisitorEvent =
  | { readonly type: typeof USER_UPSERTED; readonly data: UserUpsertedData }
  | { readonly type: typeof EVENT_TRACKED; readonly data: EventTrackedData };

/** A visitor event as the projection sees it: where it sits and what it says. */
export type VisitorFact = VisitorEvent & {
  readonly environment: string;
  readonly userId: string;
  /** Revision in the visitor's stream; the projection's idempotency guard. */
  readonly revision: number;
};

export function isVisitorEventType(type: string): type is VisitorEvent['type'] {
  return type === USER_UPSERTED || type === EVENT_TRACKED;
}
