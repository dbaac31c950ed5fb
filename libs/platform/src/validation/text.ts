import { ValidationOptions, isEmail, registerDecorator } from 'class-validator';

/**
 * Text that can be stored and given back unchanged: well-formed Unicode (no
 * lone surrogate, which storage would replace) and no NUL character.
 */
export function isCleanText(value: string): boolean {
  return value.isWellFormed() && !value.includes('\u0000');
}

export function IsCleanText(options?: ValidationOptions): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'isCleanText',
      target: target.constructor,
      propertyName: property as string,
      options,
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || isCleanText(value),
        defaultMessage: (args) => `${args?.property} must be well-formed Unicode text without NUL characters`,
      },
    });
}

/**
 * class-validator's `IsEmail`, except that text which is not well-formed
 * Unicode is simply not an email address: validator.js throws on a lone
 * surrogate (it passes the text to `encodeURI`), which would be a 500.
 */
export function IsWellFormedEmail(options?: ValidationOptions): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'isEmail',
      target: target.constructor,
      propertyName: property as string,
      options,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && value.isWellFormed() && isEmail(value),
        defaultMessage: (args) => `${args?.property} must be an email`,
      },
    });
}

/**
 * Length in Unicode code points, the characters every limit of the API counts
 * (as JSON Schema's maxLength does): an emoji is one, though JavaScript's
 * `length` counts two UTF-16 units for it.
 */
export function codePointLength(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length -= 1;
        i += 1;
      }
    }
  }
  return length;
}

/** Whether `text` has at most `max` code points; a string no longer in UTF-16 units is not counted. */
export function hasAtMostCharacters(text: string, max: number): boolean {
  return text.length <= max || codePointLength(text) <= max;
}

/** A string of at most `max` characters, counted in code points; anything else is left to other rules. */
export function MaxCharacters(max: number, options?: ValidationOptions): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'maxCharacters',
      target: target.constructor,
      propertyName: property as string,
      constraints: [max],
      options,
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || hasAtMostCharacters(value, max),
        defaultMessage: (args) => `${args?.property} must be at most ${max} characters`,
      },
    });
}
