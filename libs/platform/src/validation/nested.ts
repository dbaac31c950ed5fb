import { ArrayMaxSize, IsArray, ValidateNested } from 'class-validator';

const NESTED = Symbol('visitorbase:nested');

type Constructor<T = object> = new () => T;

interface NestedArray {
  readonly type: () => Constructor;
  readonly itemShape: string;
  readonly maxItems: number;
}

/**
 * An optional array of objects of class `type`, at most `maxItems` of them:
 * `@IsArray()`, `@ArrayMaxSize(maxItems)` and `@ValidateNested({ each: true })`,
 * and it tells the validation pipe which class the items are, so it can build
 * them without class-transformer.
 */
export function NestedEach(type: () => Constructor, itemShape: string, maxItems: number): PropertyDecorator {
  return (target, property) => {
    IsArray()(target, property);
    ArrayMaxSize(maxItems)(target, property);
    ValidateNested({ each: true, message: (args) => `each item of ${args.property} must be an object ${itemShape}` })(
      target,
      property,
    );
    const nested: Map<string | symbol, NestedArray> = Reflect.getOwnMetadata(NESTED, target) ?? new Map();
    nested.set(property, { type, itemShape, maxItems });
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
  const nested: Map<string | symbol, NestedArray> | undefined = Reflect.getMetadata(NESTED, instance);
  for (const key of Object.keys(plain)) {
    if (key in instance && !Object.prototype.hasOwnProperty.call(instance, key)) {
      problems.push(`${path}property ${key} should not exist`);
      continue;
    }
    let value = plain[key];
    const array = nested?.get(key);
    if (array && value !== null && value !== undefined) {
      // What is not an array, or is too long, is reported here and left out: class-validator
      // would descend into it all the same, item by item (one message for each of a million
      // items in a 1 MB body), or into a plain object as if it were a DTO.
      if (!Array.isArray(value)) {
        problems.push(`${path}${key} must be an array`);
        continue;
      }
      if (value.length > array.maxItems) {
        problems.push(`${path}${key} must contain no more than ${array.maxItems} elements, got ${value.length}`);
        continue;
      }
      const cls = array.type();
      value = value.map((item, i) => {
        if (isPlainObject(item)) return toInstance(cls, item, problems, `${path}${key}.${i}.`);
        // Reported here with its index. class-validator would also descend into an array found
        // where an object is expected, without bound: it would accept [[]] and overflow the
        // stack on deep nesting. Nothing is left for it to descend into.
        problems.push(`${path}${key}.${i} must be an object ${array.itemShape}`);
        return undefined;
      });
    }
    Object.defineProperty(instance, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return instance;
}

export { isPlainObject };
