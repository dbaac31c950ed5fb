import { ValidationOptions, registerDecorator } from 'class-validator';

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
