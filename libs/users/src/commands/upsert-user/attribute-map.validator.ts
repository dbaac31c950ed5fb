import { ValidationArguments, ValidationOptions, registerDecorator } from 'class-validator';
import { hasAtMostCharacters, isCleanText } from '@visitorbase/platform/validation/text';
import { LIMITS } from '../../domain/limits';

const SIMPLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function label(property: string, name: string): string {
  return SIMPLE_NAME.test(name) ? `${property}.${name}` : `${property}[${JSON.stringify(name)}]`;
}

function isAttributeValue(value: unknown): boolean {
  if (typeof value === 'string') return hasAtMostCharacters(value, LIMITS.attributeStringLength) && isCleanText(value);
  if (typeof value === 'number') return Number.isSafeInteger(value);
  return typeof value === 'boolean';
}

/** Why a value that is not an attribute value is not one. */
function valueProblem(value: unknown): string {
  if (typeof value === 'string') {
    return `must be at most ${LIMITS.attributeStringLength} characters of well-formed Unicode text without NUL characters`;
  }
  if (typeof value === 'number' && Number.isInteger(value)) {
    // Past 2^53 a JSON number no longer holds every integer: 2^53 + 1 would be read as 2^53.
    return `must be an integer from -${Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}`;
  }
  return 'must be a string, an integer or a boolean';
}

/** Every problem of an attributes object, one message each; empty when valid. */
export function attributeMapProblems(value: unknown, property = 'attributes'): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [`${property} must be an object of attribute names to values`];
  }
  const names = Object.keys(value);
  const problems: string[] = [];
  if (names.length > LIMITS.attributesPerRequest) {
    problems.push(`${property} must have at most ${LIMITS.attributesPerRequest} entries, got ${names.length}`);
  }
  for (const name of names) {
    if (name.length === 0) problems.push(`${property} must not have an empty attribute name`);
    else if (!hasAtMostCharacters(name, LIMITS.attributeNameLength))
      problems.push(`${property} name ${JSON.stringify(Array.from(name).slice(0, 40).join('') + '…')} is longer than ${LIMITS.attributeNameLength} characters`);
    else if (!isCleanText(name)) problems.push(`${property} names must be well-formed Unicode text without NUL characters`);
    else {
      const v = (value as Record<string, unknown>)[name];
      if (!isAttributeValue(v)) problems.push(`${label(property, name)} ${valueProblem(v)}`);
    }
    if (problems.length >= 50) {
      problems.push(`${property}: more problems not listed`);
      break;
    }
  }
  return problems;
}

/**
 * `{attributeName: attributeValue}` where a value is a string, a safe
 * integer or a boolean. Names may hold any character, `.` and `$` included.
 */
export function IsAttributeMap(options?: ValidationOptions): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'isAttributeMap',
      target: target.constructor,
      propertyName: property as string,
      options,
      validator: {
        validate: (value: unknown) => attributeMapProblems(value).length === 0,
        // One line per problem; the validation pipe lists each on its own.
        defaultMessage: (args?: ValidationArguments) => attributeMapProblems(args?.value, args?.property).join('\n'),
      },
    });
}
