import { BadRequestException } from '@nestjs/common';
import { StrictBodyPipe } from '@visitorbase/platform/validation/strict-body.pipe';
import { UpsertUserDto } from './upsert-user.dto';

const pipe = new StrictBodyPipe();

function validate(body: unknown): { ok: true; value: UpsertUserDto } | { ok: false; messages: string[] } {
  try {
    return { ok: true, value: pipe.transform(body, { type: 'body', metatype: UpsertUserDto }) as UpsertUserDto };
  } catch (error) {
    if (!(error instanceof BadRequestException)) throw error;
    return { ok: false, messages: (error.getResponse() as { message: string[] }).message };
  }
}
function rejected(body: unknown): string[] {
  const result = validate(body);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(body)}`);
  return result.messages;
}

describe('POST /v2/users body rules', () => {
  it('accepts the smallest body and a full one', () => {
    expect(validate({ userId: 'u' }).ok).toBe(true);
    const full = {
      userId: 'a926111b-fa62-49f7-8666-2c94ca8b18fc',
      events: [{ event: 'Clicked Signup', timestamp: 1612739790947 }, { event: 'Opened' }],
      attributes: { plan: 'enterprise', completed_flow: false, seats: -3, 'a.b': 'x', $c: '' },
      emailAddress: 'someone@example.com',
    };
    const result = validate(full);
    expect(result).toEqual({ ok: true, value: expect.objectContaining(full) });
  });

  it('treats null optional fields as absent', () => {
    expect(validate({ userId: 'u', events: null, attributes: null, emailAddress: null }).ok).toBe(true);
    expect(validate({ userId: 'u', events: [{ event: 'e', timestamp: null }] }).ok).toBe(true);
  });

  it('requires userId to be a non-empty string of at most 512 characters', () => {
    // One message a property: the first rule it breaks, the most basic first.
    expect(rejected({})).toEqual(['userId should not be empty']);
    expect(rejected({ userId: null })).toEqual(['userId should not be empty']);
    expect(rejected({ userId: '' })).toEqual(['userId should not be empty']);
    expect(rejected({ userId: 42 })).toEqual(['userId must be a string']);
    expect(rejected({ userId: 'x'.repeat(513) })).toEqual(['userId must be at most 512 characters']);
    expect(validate({ userId: 'x'.repeat(512) }).ok).toBe(true);
    expect(validate({ userId: '🙂'.repeat(512) }).ok).toBe(true);
  });

  it('rejects text that storage could not give back: lone surrogates and NUL', () => {
    expect(rejected({ userId: 'a\ud800' })).toContain('userId must be well-formed Unicode text without NUL characters');
    expect(rejected({ userId: 'a\u0000b' })).toContain('userId must be well-formed Unicode text without NUL characters');
    expect(rejected({ userId: 'u', events: [{ event: '\udc00' }] })).toContain(
      'events.0.event must be well-formed Unicode text without NUL characters',
    );
  });

  it('checks every event and names each offending one by its index', () => {
    const messages = rejected({
      userId: 'u',
      events: [{ event: 'ok' }, { event: '' }, { event: 'x'.repeat(256) }, { timestamp: 1 }, { event: 'e', timestamp: 1.5 }, { event: 'e', timestamp: -1 }, 'junk', { event: 'e', extra: 1 }],
    });
    expect(messages).toEqual(
      expect.arrayContaining([
        'events.1.event should not be empty',
        'events.2.event must be at most 255 characters',
        'events.3.event should not be empty',
        'events.4.timestamp must be an integer number',
        'events.5.timestamp must not be less than 0',
        'events.7.property extra should not exist',
      ]),
    );
    expect(messages).toContain('events.6 must be an object {"event": string, "timestamp": integer milliseconds}');
    expect(messages.some((m) => m.startsWith('events.0'))).toBe(false);
    expect(rejected({ userId: 'u', events: [{ event: 'ok' }, null] })).toEqual([
      'events.1 must be an object {"event": string, "timestamp": integer milliseconds}',
    ]);
  });

  it('rejects an array where an event object is expected, however deeply nested', () => {
    const notAnObject = (i: number) => `events.${i} must be an object {"event": string, "timestamp": integer milliseconds}`;
    expect(rejected({ userId: 'u', events: [[]] })).toEqual([notAnObject(0)]);
    expect(rejected({ userId: 'u', events: [{ event: 'ok' }, [{ event: 'e' }]] })).toEqual([notAnObject(1)]);
    const deep = JSON.parse(`{"userId":"u","events":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    expect(rejected(deep)).toEqual([notAnObject(0)]);
  });

  it('takes at most 1000 events', () => {
    const events = Array.from({ length: 1001 }, () => ({ event: 'e' }));
    expect(rejected({ userId: 'u', events })).toEqual(['events must contain no more than 1000 elements, got 1001']);
    expect(validate({ userId: 'u', events: events.slice(1) }).ok).toBe(true);
    expect(rejected({ userId: 'u', events: { event: 'e' } })).toEqual(['events must be an array']);
    expect(rejected({ userId: 'u', events: 'e' })).toEqual(['events must be an array']);
  });

  it('refuses a huge events array as a whole, without looking at its items', () => {
    // Fits in a 1 MB body. Checked item by item, it overflowed the stack with its messages (a 500)
    // and held the event loop for seconds.
    expect(rejected({ userId: 'u', events: new Array(400_000).fill(0) })).toEqual([
      'events must contain no more than 1000 elements, got 400000',
    ]);
    expect(rejected({ userId: 'u', events: new Array(340_000).fill({}) })).toEqual([
      'events must contain no more than 1000 elements, got 340000',
    ]);
  });

  it('lists at most 100 problems, and says how many more there were', () => {
    const messages = rejected({ userId: 'u', events: new Array(1000).fill({}) });
    expect(messages).toHaveLength(101);
    expect(messages[0]).toBe('events.0.event should not be empty');
    expect(messages[99]).toBe('events.99.event should not be empty');
    expect(messages[100]).toBe('and 900 more problems not listed');
  });

  it('rejects timestamps a Date cannot hold', () => {
    expect(rejected({ userId: 'u', events: [{ event: 'e', timestamp: 1e300 }] })).toContain(
      'events.0.timestamp must not be greater than 8640000000000000',
    );
    expect(rejected({ userId: 'u', events: [{ event: 'e', timestamp: '1612739790947' }] })).toContain(
      'events.0.timestamp must be an integer number',
    );
  });

  it('takes attribute values that are strings, integers or booleans, and names every other', () => {
    const messages = rejected({
      userId: 'u',
      attributes: { ok: 'x', f: 1.5, n: null, a: [1], o: { x: 1 }, big: 2 ** 60, 'a.b': NaN },
    });
    expect(messages).toEqual([
      'attributes.f must be a string, an integer or a boolean',
      'attributes.n must be a string, an integer or a boolean',
      'attributes.a must be a string, an integer or a boolean',
      'attributes.o must be a string, an integer or a boolean',
      'attributes.big must be an integer from -9007199254740991 to 9007199254740991',
      'attributes["a.b"] must be a string, an integer or a boolean',
    ]);
  });

  it('counts characters as code points in every limit, an emoji as one', () => {
    const emoji = '😀';
    expect(validate({ userId: emoji.repeat(512), events: [{ event: emoji.repeat(255) }], attributes: { [emoji.repeat(255)]: emoji.repeat(4096) } }).ok).toBe(true);
    expect(rejected({ userId: emoji.repeat(513) })).toEqual(['userId must be at most 512 characters']);
    expect(rejected({ userId: 'u', events: [{ event: emoji.repeat(256) }] })).toEqual(['events.0.event must be at most 255 characters']);
    expect(rejected({ userId: 'u', attributes: { [emoji.repeat(256)]: 1 } })[0]).toMatch(/is longer than 255 characters$/);
    expect(rejected({ userId: 'u', attributes: { s: emoji.repeat(4097) } })[0]).toMatch(/^attributes\.s must be at most 4096 characters/);
    // A variation selector is a code point like any other (validator.js's isLength leaves it out).
    expect(rejected({ userId: 'a\ufe0f'.repeat(257) })).toEqual(['userId must be at most 512 characters']);
  });

  it('limits attribute names, values and count', () => {
    expect(rejected({ userId: 'u', attributes: { '': 'x' } })).toEqual(['attributes must not have an empty attribute name']);
    expect(rejected({ userId: 'u', attributes: { ['n'.repeat(256)]: 'x' } })[0]).toMatch(/is longer than 255 characters/);
    expect(validate({ userId: 'u', attributes: { ['n'.repeat(255)]: 'v'.repeat(4096) } }).ok).toBe(true);
    expect(rejected({ userId: 'u', attributes: { s: 'v'.repeat(4097) } })[0]).toMatch(/^attributes\.s must be at most 4096 characters/);
    const many = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i]));
    expect(rejected({ userId: 'u', attributes: many })).toEqual(['attributes must have at most 1000 entries, got 1001']);
    expect(rejected({ userId: 'u', attributes: [1] })).toEqual(['attributes must be an object of attribute names to values']);
    expect(rejected({ userId: 'u', attributes: 'plan' })).toEqual(['attributes must be an object of attribute names to values']);
  });

  it('accepts attribute names with any characters, __proto__ included, as data', () => {
    const attributes = JSON.parse('{"__proto__":"p","constructor":"c","a.b":1,"$set":true,"ü 🙂":"x"}');
    const result = validate({ userId: 'u', attributes });
    expect(result.ok).toBe(true);
    expect(Object.keys((result as { value: UpsertUserDto }).value.attributes!)).toEqual(['__proto__', 'constructor', 'a.b', '$set', 'ü 🙂']);
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });

  it('takes an email address of up to 254 characters, as the docs say, and names the limit past it', () => {
    // A local part of 64, then domain labels of at most 63 each.
    const address = (length: number) => `${'l'.repeat(64)}@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(length - 64 - 1 - 64 - 64 - 4)}.com`;
    expect(address(254)).toHaveLength(254);
    expect(validate({ userId: 'u', emailAddress: address(254) }).ok).toBe(true);
    expect(rejected({ userId: 'u', emailAddress: address(255) })).toEqual(['emailAddress must be at most 254 characters']);
  });

  it('requires a valid email address', () => {
    expect(rejected({ userId: 'u', emailAddress: 'nope' })).toContain('emailAddress must be an email');
    expect(rejected({ userId: 'u', emailAddress: 5 })).toContain('emailAddress must be a string');
    // validator.js throws on a lone surrogate; it must be a plain rejection.
    expect(rejected({ userId: 'u', emailAddress: 'x\ud800x@example.com' })).toContain('emailAddress must be an email');
  });

  it('rejects unknown top-level fields, __proto__ included, without touching any prototype', () => {
    expect(rejected({ userId: 'u', userID: 'x' })).toEqual(['property userID should not exist']);
    const hostile = JSON.parse('{"userId":"u","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}');
    const messages = rejected(hostile);
    expect(messages).toEqual(expect.arrayContaining(['property __proto__ should not exist', 'property constructor should not exist']));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((UpsertUserDto.prototype as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names an unknown field in one line, quoted when it is not a plain name', () => {
    expect(rejected({ userId: 'u', 'a\n\nb': 1 })).toEqual(['property "a\\n\\nb" should not exist']);
    expect(rejected({ userId: 'u', '': 1 })).toEqual(['property "" should not exist']);
    expect(rejected({ userId: 'u', events: [{ event: 'e', 'x y': 1 }] })).toEqual(['events.0.property "x y" should not exist']);
  });

  it('rejects a body that is not a JSON object', () => {
    for (const body of [undefined, null, [], 'text', 3, true]) {
      expect(rejected(body)).toEqual(['request body must be a JSON object']);
    }
  });
});
