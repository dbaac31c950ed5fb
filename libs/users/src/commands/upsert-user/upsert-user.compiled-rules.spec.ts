import fc from 'fast-check';
import { validateSync } from 'class-validator';
import { passesCompiledRules } from '@visitorbase/platform/validation/compiled-rules';
import { toInstance } from '@visitorbase/platform/validation/nested';
import { VALIDATOR_OPTIONS } from '@visitorbase/platform/validation/strict-body.pipe';
import { LIMITS } from '../../domain/limits';
import { UpsertUserDto } from './upsert-user.dto';

/** What class-validator says, the single source of the rules: valid, or not (a throw counts as not). */
function classValidatorPasses(instance: object): boolean {
  try {
    return validateSync(instance, VALIDATOR_OPTIONS).length === 0;
  } catch {
    return false;
  }
}

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', 'a\u0000b', 'lone \ud800 surrogate', 'x'.repeat(LIMITS.eventNameLength + 1), 'x'.repeat(LIMITS.userIdLength + 1)),
);
const anything = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}));
const timestamp = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 45 }),
  fc.constantFrom(-1, 1.5, LIMITS.maxTimestamp, LIMITS.maxTimestamp + 1, null, '1700000000000'),
);
const event = fc.oneof(
  fc.record({ event: fc.oneof(text, anything), timestamp }, { requiredKeys: ['event'] }),
  fc.record({ event: text, timestamp, extra: anything }, { requiredKeys: ['event', 'extra'] }),
  anything,
);
const attributeValue = fc.oneof(text, fc.integer(), fc.boolean(), fc.double(), fc.constant(null), fc.constant({}), fc.constant(2 ** 60));
const body = fc.record(
  {
    userId: fc.oneof(text, anything),
    events: fc.oneof(fc.array(event, { maxLength: 4 }), anything),
    attributes: fc.oneof(fc.dictionary(text, attributeValue, { maxKeys: 4 }), anything),
    emailAddress: fc.oneof(fc.constantFrom('a@example.com', 'not an email', 'x@\ud800.com'), anything),
    unknown: anything,
  },
  { requiredKeys: [] },
);

// Bodies that are valid, and valid bodies with one field replaced by anything: near the edges of the rules.
const name = fc.string({ minLength: 1, maxLength: 10 }).filter((n) => n.isWellFormed() && !n.includes('\u0000'));
const validBody = fc.record(
  {
    userId: name,
    events: fc.oneof(fc.constant(null), fc.array(fc.record({ event: name, timestamp: fc.integer({ min: 0, max: 2 ** 45 }) }, { requiredKeys: ['event'] }), { maxLength: 4 })),
    attributes: fc.oneof(fc.constant(null), fc.dictionary(name, fc.oneof(name, fc.integer(), fc.boolean()), { maxKeys: 4 })),
    emailAddress: fc.oneof(fc.constant(null), fc.constantFrom('a@example.com', 'first.last@sub.example.org')),
  },
  { requiredKeys: ['userId'] },
);
const nearlyValidBody = fc
  .tuple(validBody, fc.constantFrom('userId', 'events', 'attributes', 'emailAddress', 'unknown'), anything)
  .map(([valid, field, value]) => ({ ...valid, [field]: value }));
const anyBody = fc.oneof(validBody, nearlyValidBody, body);

describe('passesCompiledRules on UpsertUserDto', () => {
  it('accepts exactly what validateSync accepts', () => {
    let valid = 0;
    let checked = 0;
    fc.assert(
      fc.property(anyBody, (plain) => {
        const problems: string[] = [];
        const instance = toInstance(UpsertUserDto, plain as Record<string, unknown>, problems);
        if (problems.length > 0) return;
        const expected = classValidatorPasses(instance);
        expect(passesCompiledRules(instance)).toBe(expected);
        checked += 1;
        if (expected) valid += 1;
      }),
      { numRuns: 3000 },
    );
    // Both answers must have been exercised for the comparison to mean anything.
    expect(valid).toBeGreaterThan(checked / 50);
    expect(checked - valid).toBeGreaterThan(checked / 50);
  });

  it('accepts the bodies the benchmark sends', () => {
    const problems: string[] = [];
    const instance = toInstance(
      UpsertUserDto,
      {
        userId: 'i000123',
        attributes: { plan: 'enterprise', seats: 12, trial: false },
        events: [{ event: 'Clicked Signup', timestamp: 1612739790947 }, { event: 'Opened' }],
        emailAddress: 'a@example.com',
      },
      problems,
    );
    expect(problems).toEqual([]);
    expect(passesCompiledRules(instance)).toBe(true);
    expect(classValidatorPasses(instance)).toBe(true);
  });

  it('never passes a plain object, which class-validator rejects as an unknown value', () => {
    expect(passesCompiledRules({ userId: 'a' })).toBe(false);
  });
});
