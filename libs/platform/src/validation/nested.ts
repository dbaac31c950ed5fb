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
 * Makes an instance of `type` holding exactly the own properties of `plain`,
 * as data properties: a `__proto__` key stays a key (and is then rejected as
 * unknown), it never becomes a prototype.
 */
export function toInstance<T extends object>(type: Constructor<T>, plain: Record<string, unknown>): T {
  const instance = new type();
  const nested: Map<string | symbol, () => Constructor> | undefined = Reflect.getMetadata(NESTED, instance);
  for (const key of Object.keys(plain)) {
    let value = plain[key];
    const itemType = nested?.get(key);
    if (itemType && Array.isArray(value)) {
      const cls = itemType();
      value = value.map((item) => (isPlainObject(item) ? toInstance(cls, item) : item));
    }
    Object.defineProperty(instance, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return instance;
}

export { isPlainObject };
