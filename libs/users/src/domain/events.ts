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

/**
 * Why `data` is not what the write side appends for `type`, or undefined when
 * it is. The log can hold events written by other means (EventStoreDB takes
 * any client's appends to any stream): the fold must neither take such an
 * event in (it would serve `null` or an object as an attribute value) nor stop
 * on it (every visitor's profile would wait behind it).
 */
export function malformedData(type: VisitorEvent['type'], data: unknown): string | undefined {
  if (!isJsonObject(data)) return 'its data is not a JSON object';
  if (type === USER_UPSERTED) {
    if (!isFiniteNumber(data.receivedAt)) return 'receivedAt is not a number';
    const attributes = data.attributes;
    if (!isJsonObject(attributes)) return 'attributes is not an object';
    for (const name of Object.keys(attributes)) {
      if (!isAttributeValue(attributes[name])) return `attribute ${JSON.stringify(name)} is not a string, a number or a boolean`;
    }
    if (data.emailAddress !== undefined && typeof data.emailAddress !== 'string') return 'emailAddress is not a string';
    return undefined;
  }
  if (typeof data.event !== 'string') return 'event is not a string';
  if (!isFiniteNumber(data.timestamp)) return 'timestamp is not a number';
  return undefined;
}

/** What JSON.parse makes of `{…}`: not null, an array, nor bytes (a binary EventStoreDB event). */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isAttributeValue(value: unknown): value is AttributeValue {
  return typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value);
}
