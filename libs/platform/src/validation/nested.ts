import { ValidateNested } from 'class-validator';

const NESTED = Symbol('visitorbase:nested');

type Constructor<T = object> = new () => T;

/**
 * `@ValidateNested({ each: true })` that also tells the validation pipe which
 * class the items of the array are, so it can build them without
 * class-transformer.
 */
export function NestedEach(type: () => Constructor, itemShape: string): PropertyDecorator {
  return (target, property) => {
    ValidateNested({ each: true, message: (args) => `each item of ${args.property} must be an object ${itemShape}` })(
      target,
      property,
    );
    const nested: Map<string | symbol, () => Constructor> = Reflect.getOwnMetadata(NESTED, target) ?? new Map();
    nested.set(property, type);
    Reflect.defineMetadata(NESTED, nested, target);
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Makes an instance of `type` holding the own properties of `plain` as data
 * properties. A key that would shadow something every object inherits
 * (`__proto__`, `constructor`, `toString`...) is never a DTO property: it is
 * left out and reported in `problems` as an unknown property (it would
 * otherwise hide the class from class-validator, or become a prototype).
 */
export function toInstance<T extends object>(
  type: Constructor<T>,
  plain: Record<string, unknown>,
  problems: string[],
  path = '',
): T {
  const instance = new type();
  const nested: Map<string | symbol, () => Constructor> | undefined = Reflect.getMetadata(NESTED, instance);
  for (const key of Object.keys(plain)) {
    if (key in instance && !Object.prototype.hasOwnProperty.call(instance, key)) {
      problems.push(`${path}property ${key} should not exist`);
      continue;
    }
    let value = plain[key];
    const itemType = nested?.get(key);
    if (itemType && Array.isArray(value)) {
      const cls = itemType();
      value = value.map((item, i) => {
        if (isPlainObject(item)) return toInstance(cls, item, problems, `${path}${key}.${i}.`);
        if (!Array.isArray(item)) return item;
        // class-validator descends into an array found where an object is
        // expected, without bound: it would accept [[]] and overflow the stack
        // on deep nesting. Report it here and leave nothing for it to descend into.
        problems.push(`${path}${key}.${i} must be an object, not an array`);
        return undefined;
      });
    }
    Object.defineProperty(instance, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return instance;
}

export { isPlainObject };
