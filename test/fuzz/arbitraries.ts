import fc from 'fast-check';
import { LIMITS } from '@visitorbase/users';

/**
 * A model of JSON text that can also hold what `JSON.stringify` never
 * writes: duplicate keys, `__proto__` as an own key, number literals such as
 * `1e999`, and nesting deeper than any recursion allows.
 */
export type Json = { raw: string } | { entries: Array<[string, Json]> } | Json[] | string | number | boolean | null;

export function jsonText(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if ('raw' in value) return value.raw;
  return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
}

const raw = (text: string): Json => ({ raw: text });
const object = (entries: Array<[string, Json]>): Json => ({ entries });

/** What the service must answer a generated request. */
export type Expected = { status: number } | 'client-error' | 'not-server-error';

export interface GeneratedRequest {
  readonly what: string;
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly payload?: string;
  readonly expected: Expected;
}

// ---------------------------------------------------------------- text

const ASCII = [...'abcXYZ019 _-.$/%?#&+=:;@!~*\'"\\<>{}[]()`|^,'];
const ODD = ['🙂', '中', 'ü', 'é', '\u200b', '\ufeff', '\u202e', '\ufe0f', '\n', '\t', '\r', '\u2028', '\u007f', '\u0001'];

const unit = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...ASCII) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD) },
);

/** Text the API stores and gives back: well-formed Unicode without NUL, `min` to `max` code points. */
export const cleanText = (min: number, max: number) =>
  fc.string({ unit, minLength: min, maxLength: max }).filter((s) => s.isWellFormed() && !s.includes('\u0000') && s.length >= min);

/** Text that is not well-formed (a lone surrogate) or holds a NUL. */
const dirtyText = fc
  .tuple(cleanText(0, 10), fc.oneof(fc.integer({ min: 0xd800, max: 0xdbff }), fc.integer({ min: 0xdc00, max: 0xdfff }), fc.constant(0)), cleanText(0, 10))
  // `x` on either side keeps a lone half from pairing with a neighbour.
  .map(([a, code, b]) => `${a}x${String.fromCharCode(code)}x${b}`);

const tooLong = (limit: number) => fc.integer({ min: limit + 1, max: limit + 200 }).map((n) => 'x'.repeat(n));

// ---------------------------------------------------------------- values

const deepArrays = fc.integer({ min: 1, max: 20_000 }).map((d) => raw('['.repeat(d) + ']'.repeat(d)));
const deepObjects = fc.integer({ min: 1, max: 5_000 }).map((d) => raw('{"a":'.repeat(d) + '1' + '}'.repeat(d)));
const hugeNumbers = fc.constantFrom('1e999', '-1e999', '1e308', '9007199254740993', '123456789012345678901234567890', '1.5e300').map(raw);

/** Any JSON value at all, hostile shapes included. */
const anyJson: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => raw(JSON.stringify(v))),
  deepArrays,
  deepObjects,
  hugeNumbers,
  dirtyText,
);

const notAString: fc.Arbitrary<Json> = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant<Json>([]),
  fc.constant(object([])),
  hugeNumbers,
  deepArrays,
);

// ---------------------------------------------------------------- valid bodies

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

const attributeName = fc.oneof(
  { weight: 4, arbitrary: cleanText(1, 30) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES, 'a.b', '$set', 'x.$y', '..', 'n'.repeat(LIMITS.attributeNameLength)) },
);
const attributeValue: fc.Arbitrary<Json> = fc.oneof(
  cleanText(0, 40),
  fc.maxSafeInteger(),
  fc.boolean(),
  fc.constant('v'.repeat(LIMITS.attributeStringLength)),
);
const timestamp: fc.Arbitrary<Json> = fc.oneof(
  fc.nat(),
  fc.maxSafeNat().map((n) => n % (LIMITS.maxTimestamp + 1)),
  fc.constant(LIMITS.maxTimestamp),
  fc.constant(null),
);
const eventName = fc.oneof({ weight: 5, arbitrary: cleanText(1, 30) }, { weight: 1, arbitrary: fc.constant('e'.repeat(LIMITS.eventNameLength)) });
const validEvent: fc.Arbitrary<Json> = fc
  .tuple(eventName, fc.option(timestamp, { nil: undefined }), fc.boolean())
  .map(([event, ts, tsFirst]) => {
    const entries: Array<[string, Json]> = [['event', event]];
    if (ts !== undefined) entries[tsFirst ? 'unshift' : 'push'](['timestamp', ts]);
    return object(entries);
  });
const email = fc
  .tuple(fc.stringMatching(/^[a-z0-9]{1,20}([._-][a-z0-9]{1,10}){0,2}$/), fc.constantFrom('example.com', 'b.co', 'mail.example.org'))
  .map(([local, domain]) => `${local}@${domain}`);
const userId = fc.oneof(
  { weight: 8, arbitrary: cleanText(1, 40) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(LIMITS.userIdLength), '🙂'.repeat(LIMITS.userIdLength), '../../etc/passwd', '%2F', '\\', '.') },
);

/** `[key, value]` pairs of a body the API must accept. Optional fields are absent, null or set. */
const validEntries: fc.Arbitrary<Array<[string, Json]>> = fc
  .record({
    userId,
    attributes: fc.option(fc.option(fc.array(fc.tuple(attributeName, attributeValue), { maxLength: 6 }), { nil: null }), { nil: undefined }),
    events: fc.option(fc.option(fc.array(validEvent, { maxLength: 5 }), { nil: null }), { nil: undefined }),
    emailAddress: fc.option(fc.option(email, { nil: null }), { nil: undefined }),
    // JSON with a repeated key is valid; the last value counts.
    earlierUserId: fc.option(anyJson, { nil: undefined, freq: 8 }),
  })
  .chain(({ userId, attributes, events, emailAddress, earlierUserId }) => {
    const entries: Array<[string, Json]> = [['userId', userId]];
    if (attributes !== undefined) entries.push(['attributes', attributes === null ? null : object(attributes)]);
    if (events !== undefined) entries.push(['events', events]);
    if (emailAddress !== undefined) entries.push(['emailAddress', emailAddress]);
    return fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }).map((shuffled) => {
      if (earlierUserId === undefined) return shuffled;
      const at = shuffled.findIndex(([k]) => k === 'userId');
      return [...shuffled.slice(0, at), ['userId', earlierUserId] as [string, Json], ...shuffled.slice(at)];
    });
  });

// ---------------------------------------------------------------- invalid bodies

type Entries = Array<[string, Json]>;
type Mutation = (entries: Entries) => Json;

const setField = (key: string, value: Json): Mutation => (entries) => object([...entries.filter(([k]) => k !== key), [key, value]]);

const badAttributeValue: fc.Arbitrary<Json> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isSafeInteger(n)),
  hugeNumbers,
  fc.constant(null),
  fc.constant(object([])),
  fc.constant<Json>([]),
  fc.constant<Json>([1, 'a']),
  deepArrays,
  deepObjects,
  tooLong(LIMITS.attributeStringLength),
  dirtyText,
);
const badAttributes: fc.Arbitrary<Json> = fc.oneof(
  fc.array(attributeValue, { maxLength: 3 }),
  cleanText(0, 10),
  fc.integer(),
  fc.boolean(),
  deepArrays,
  fc
    .tuple(fc.array(fc.tuple(attributeName, attributeValue), { maxLength: 3 }), attributeName, badAttributeValue)
    .map(([good, name, value]) => object([...good, [name, value]])),
  fc.oneof(fc.constant(''), tooLong(LIMITS.attributeNameLength), dirtyText).map((name) => object([[name, 'v']])),
  fc.constant(object(Array.from({ length: LIMITS.attributesPerRequest + 1 }, (_, i): [string, Json] => [`k${i}`, i]))),
);

const badEventName: fc.Arbitrary<Json> = fc.oneof(notAString, fc.constant(''), tooLong(LIMITS.eventNameLength), dirtyText);
const badTimestamp: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
  fc.nat().map(String),
  hugeNumbers,
  fc.constant(raw(String(LIMITS.maxTimestamp + 1))),
  fc.boolean(),
  fc.constant<Json>([]),
);
const badEvent: fc.Arbitrary<Json> = fc.oneof(
  fc.oneof(fc.integer(), cleanText(0, 5), fc.constant(null), fc.boolean(), fc.constant<Json>([]), deepArrays),
  fc.constant(object([])),
  badEventName.map((event) => object([['event', event]])),
  badTimestamp.map((ts) => object([['event', 'e'], ['timestamp', ts]])),
  fc
    .tuple(fc.constantFrom(...PROTOTYPE_NAMES, 'extra', 'Event', 'name'), anyJson)
    .map(([key, value]) => object([['event', 'e'], [key, value]])),
);
const badEvents: fc.Arbitrary<Json> = fc.oneof(
  fc.oneof(fc.constant(object([['event', 'e']])), cleanText(0, 5), fc.integer(), fc.boolean(), deepObjects),
  fc
    .tuple(fc.array(validEvent, { maxLength: 3 }), badEvent, fc.array(validEvent, { maxLength: 2 }))
    .map(([before, bad, after]) => [...before, bad, ...after]),
  fc.constant(Array.from({ length: LIMITS.eventsPerRequest + 1 }, () => object([['event', 'e']]))),
);
const badEmail: fc.Arbitrary<Json> = fc.oneof(
  // null is an absent email address, which is fine.
  notAString.filter((v) => v !== null),
  fc.constantFrom('nope', 'a@', '@b.co', 'a b@c.de', 'a@b@c.de', 'a@-b.com', 'x'.repeat(LIMITS.emailLength) + '@example.com'),
  dirtyText,
);
const unknownKey = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES, 'UserId', 'userid', 'user_id', 'events ', 'extra', ''),
  cleanText(1, 12).filter((k) => !['userId', 'events', 'attributes', 'emailAddress'].includes(k)),
);

const mutation: fc.Arbitrary<[string, Mutation]> = fc.oneof(
  fc.oneof(notAString, fc.constant(''), tooLong(LIMITS.userIdLength), dirtyText).map((v): [string, Mutation] => ['bad userId', setField('userId', v)]),
  fc.constant<[string, Mutation]>(['no userId', (entries) => object(entries.filter(([k]) => k !== 'userId'))]),
  badAttributes.map((v): [string, Mutation] => ['bad attributes', setField('attributes', v)]),
  badEvents.map((v): [string, Mutation] => ['bad events', setField('events', v)]),
  badEmail.map((v): [string, Mutation] => ['bad emailAddress', setField('emailAddress', v)]),
  fc.tuple(unknownKey, anyJson).map(([k, v]): [string, Mutation] => [`unknown key ${JSON.stringify(k)}`, (entries) => object([...entries, [k, v]])]),
  fc
    .oneof(fc.array(anyJson, { maxLength: 3 }), cleanText(0, 10), fc.integer(), fc.boolean(), fc.constant(null), deepArrays)
    .map((v): [string, Mutation] => ['not an object', () => v]),
);

// ---------------------------------------------------------------- requests

export interface Keys {
  readonly development: string;
  readonly production: string;
}

const WRONG_CONTENT_TYPES = [
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/jsonx',
  'application/json-patch+json',
  'application/*',
  '*/*',
  'json',
];
const JSON_CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json;'];

function authHeaders(keys: Keys): fc.Arbitrary<{ headers: Record<string, string>; valid: boolean }> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(keys.development, keys.production).map((k) => ({ headers: { authorization: `API-Key ${k}` }, valid: true })) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constant(undefined),
          fc.constantFrom(`Bearer ${keys.development}`, keys.development, 'API-Key', 'API-Key ', `API-Key ${keys.development} extra`, `API-Key ${keys.development}x`),
          cleanText(0, 30).map((s) => `API-Key ${s}`),
        )
        .map((value) => ({ headers: (value === undefined ? {} : { authorization: value }) as Record<string, string>, valid: false })),
    },
  );
}

/** A POST with a body that is valid, invalid, or damaged on the way, and what it must get. */
export function postRequest(keys: Keys): fc.Arbitrary<GeneratedRequest> {
  const body = fc.oneof(
    { weight: 2, arbitrary: validEntries.map((entries) => ({ what: 'valid', text: jsonText(object(entries)), valid: true })) },
    {
      weight: 3,
      arbitrary: fc.tuple(validEntries, mutation).map(([entries, [what, mutate]]) => ({ what, text: jsonText(mutate(entries)), valid: false })),
    },
  );
  const transport = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...JSON_CONTENT_TYPES).map((type) => ({ what: '', type: type as string | undefined, cut: 'none' as const })) },
    { weight: 1, arbitrary: fc.constantFrom(...WRONG_CONTENT_TYPES).map((type) => ({ what: `content type ${type}`, type: type as string | undefined, cut: 'none' as const })) },
    { weight: 1, arbitrary: fc.constant({ what: 'no content type', type: undefined, cut: 'none' as const }) },
    { weight: 1, arbitrary: fc.constantFrom('truncated' as const, 'empty' as const, 'blank' as const).map((cut) => ({ what: cut, type: 'application/json' as string | undefined, cut })) },
  );
  return fc.tuple(body, transport, authHeaders(keys), fc.nat()).map(([b, t, auth, n]) => {
    let payload = b.text;
    if (t.cut === 'truncated') payload = payload.slice(0, 1 + (n % Math.max(1, payload.length - 1)));
    if (t.cut === 'empty') payload = '';
    if (t.cut === 'blank') payload = ' \n\t ';
    const headers: Record<string, string> = { ...auth.headers };
    if (t.type !== undefined) headers['content-type'] = t.type;
    const jsonType = t.type !== undefined && JSON_CONTENT_TYPES.includes(t.type);
    // The order the service checks in: key, content type, then the body.
    const expected: Expected = !auth.valid
      ? { status: 401 }
      : t.type !== undefined && !jsonType
        ? { status: 415 }
        : t.type === undefined
          ? payload === ''
            ? { status: 400 }
            : { status: 415 }
          : t.cut !== 'none' || !b.valid
            ? { status: 400 }
            : { status: 202 };
    return { what: [b.what, t.what, auth.valid ? '' : 'bad key'].filter(Boolean).join(', '), method: 'POST', url: '/v2/users', headers, payload, expected };
  });
}

const junkSegment = fc.oneof(
  fc.constantFrom('%', '%Z', '%ZZ', '%00', '%ED%A0%80', '%C0%AF', '%E0%80%AF', '%FF', '..', '%2e%2e', '%2e%2e%2f%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%252F', '%u0041', ';', '%0d%0aSet-Cookie:x=1', '*', '~'),
  fc.array(fc.oneof(fc.constantFrom(...ASCII.filter((c) => /[A-Za-z0-9_.~!$&'()*+,;=:@-]/.test(c))), fc.integer({ min: 0, max: 255 }).map((n) => `%${n.toString(16).padStart(2, '0').toUpperCase()}`)), {
    minLength: 1,
    maxLength: 30,
  }).map((parts) => parts.join('')),
  fc.integer({ min: 600, max: 20_000 }).map((n) => 'a'.repeat(n)),
);

/** A GET of a visitor by a userId that is sensible, odd, or not a path at all. */
export function getRequest(keys: Keys): fc.Arbitrary<GeneratedRequest> {
  const path = fc.oneof(
    { weight: 3, arbitrary: userId.map((id) => ({ what: 'encoded userId', segment: encodeURIComponent(id) })) },
    { weight: 2, arbitrary: junkSegment.map((segment) => ({ what: 'junk path', segment })) },
  );
  const suffix = fc.constantFrom('', '', '', '?', '?x=%ZZ', '#frag', '/', '/extra', '?userId=other');
  return fc.tuple(path, suffix, authHeaders(keys)).map(([p, s, auth]) => ({
    what: `${p.what}${s ? ` + ${s}` : ''}${auth.valid ? '' : ', bad key'}`,
    method: 'GET',
    url: `/v2/users/${p.segment}${s}`,
    headers: auth.headers,
    // 200 or 404 for a userId, 400, 404 or 414 for a path that is not one. Without a
    // key, 401, unless the path cannot even be routed (400, 414): nothing is read either way.
    expected: auth.valid ? 'not-server-error' : 'client-error',
  }));
}

/** A replay of events with query parameters that may make no sense. */
export function replayRequest(keys: Keys): fc.Arbitrary<GeneratedRequest> {
  const value = fc.oneof(cleanText(0, 12), fc.constantFrom('', '-1', '0', '1e3', 'NaN', '9999999999999999999999', 'p1', '1/1', '%ZZ', '2021-01-01'));
  const name = fc.constantFrom('userId', 'type', 'since', 'until', 'fromPosition', 'limit', 'follow', 'environment', '__proto__', 'constructor');
  return fc.tuple(fc.array(fc.tuple(name, value), { maxLength: 4 }), authHeaders(keys)).map(([params, auth]) => {
    // A small limit keeps each answer short however many events the run has appended.
    const query = [...params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`), ...(params.some(([k]) => k === 'limit') ? [] : ['limit=3'])].join('&');
    return {
      what: 'replay with odd query',
      method: 'GET',
      url: `/v2/events?${query}`,
      headers: auth.headers,
      expected: auth.valid ? 'not-server-error' : { status: 401 },
    } as GeneratedRequest;
  });
}

export function anyRequest(keys: Keys): fc.Arbitrary<GeneratedRequest> {
  return fc.oneof(
    { weight: 14, arbitrary: postRequest(keys) },
    { weight: 5, arbitrary: getRequest(keys) },
    { weight: 1, arbitrary: replayRequest(keys) },
  );
}

/** One body over 1 MiB: 413, whatever it holds. */
export function oversizedRequest(keys: Keys): GeneratedRequest {
  return {
    what: 'body over 1 MiB',
    method: 'POST',
    url: '/v2/users',
    headers: { authorization: `API-Key ${keys.development}`, 'content-type': 'application/json' },
    payload: jsonText(object([['userId', 'big'], ['attributes', object([['a', 'x'.repeat(LIMITS.bodyBytes)]])]])),
    expected: { status: 413 },
  };
}
