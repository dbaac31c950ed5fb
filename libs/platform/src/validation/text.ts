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
