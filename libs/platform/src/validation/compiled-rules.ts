import { ValidationArguments, ValidationTypes, getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

/** Whether an instance passes every rule of its class. */
type Check = (object: object) => boolean;

interface ConstraintCheck {
  readonly metadata: ValidationMetadata;
  readonly validate: (value: unknown, args: ValidationArguments) => unknown;
}

interface PropertyRules {
  readonly name: string;
  readonly conditions: ReadonlyArray<(object: object, value: unknown) => boolean>;
  readonly constraints: readonly ConstraintCheck[];
  readonly nested: number;
}

const compiled = new WeakMap<Function, Check | null>();

/**
 * True when `instance` passes every class-validator rule of its class, the
 * way `validateSync` with `whitelist`, `forbidNonWhitelisted` and
 * `forbidUnknownValues` sees them; false when it does not, or when this check
 * cannot tell.
 *
 * The rules are read once per class from class-validator's own metadata and
 * the same constraint functions are called, so the decorators stay the only
 * statement of the rules. What is skipped is the rest of `validateSync`'s
 * work: looking the metadata up and grouping it on every call, and building
 * a ValidationError for every property even when nothing fails. A caller
 * answers true at once and, on false, runs `validateSync` for the messages:
 * an invalid body costs what it always did.
 */
export function passesCompiledRules(instance: object): boolean {
  const check = checkFor(instance.constructor);
  if (!check) return false;
  try {
    return check(instance);
  } catch {
    // A constraint that throws is left to validateSync, which decides what that means.
    return false;
  }
}

function checkFor(type: Function): Check | null {
  let check = compiled.get(type);
  if (check === undefined) {
    check = compile(type);
    compiled.set(type, check);
  }
  return check;
}

/** null: the class has a rule this check does not mirror (or no rules at all); always defer to validateSync. */
function compile(type: Function): Check | null {
  const storage = getMetadataStorage();
  const metadatas = storage.getTargetValidationMetadatas(type, '', false, false, undefined);
  if (metadatas.length === 0) return null;
  const grouped = storage.groupByPropertyName(metadatas);
  const allowed = new Set<string>();
  const properties: PropertyRules[] = [];
  for (const name of Object.keys(grouped)) {
    const list = grouped[name];
    if (list.length === 0) continue;
    allowed.add(name);
    const conditions: Array<(object: object, value: unknown) => boolean> = [];
    const constraints: ConstraintCheck[] = [];
    let nested = 0;
    for (const metadata of list) {
      switch (metadata.type) {
        case ValidationTypes.CONDITIONAL_VALIDATION:
          conditions.push(metadata.constraints[0]);
          break;
        case ValidationTypes.IS_DEFINED:
        case ValidationTypes.CUSTOM_VALIDATION:
          for (const constraint of storage.getTargetValidatorConstraints(metadata.constraintCls)) {
            if (constraint.async) return null;
            const instance = constraint.instance;
            constraints.push({ metadata, validate: (value, args) => instance.validate(value, args) });
          }
          break;
        case ValidationTypes.NESTED_VALIDATION:
          nested += 1;
          break;
        case ValidationTypes.WHITELIST:
          break;
        default:
          return null;
      }
    }
    properties.push({ name, conditions, constraints, nested });
  }
  return (object) => {
    for (const key of Object.keys(object)) if (!allowed.has(key)) return false;
    for (const property of properties) {
      const value = (object as Record<string, unknown>)[property.name];
      if (!property.conditions.every((condition) => condition(object, value))) continue;
      for (const { metadata, validate } of property.constraints) {
        if (metadata.validateIf && !metadata.validateIf(object, value)) continue;
        const args: ValidationArguments = {
          targetName: object.constructor ? object.constructor.name : (undefined as unknown as string),
          property: metadata.propertyName,
          object,
          value,
          constraints: metadata.constraints,
        };
        if (metadata.each && isCollection(value)) {
          for (const item of toArray(value)) if (!passed(validate(item, args))) return false;
        } else if (!passed(validate(value, args))) {
          return false;
        }
      }
      if (property.nested > 0 && value !== undefined && !nestedPasses(value)) return false;
    }
    return true;
  };
}

/** A nested value as class-validator descends into it: collections item by item, objects by their own class. */
function nestedPasses(value: unknown): boolean {
  if (isCollection(value)) {
    for (const item of toArray(value)) if (item !== undefined && !nestedPasses(item)) return false;
    return true;
  }
  if (!(value instanceof Object)) return false;
  const check = checkFor(value.constructor);
  return check !== null && check(value);
}

/** A promise cannot be waited for here: not known to pass. */
function passed(result: unknown): boolean {
  return result === true || (!!result && typeof (result as { then?: unknown }).then !== 'function');
}

function isCollection(value: unknown): value is unknown[] | Set<unknown> | Map<unknown, unknown> {
  return Array.isArray(value) || value instanceof Set || value instanceof Map;
}

function toArray(value: unknown[] | Set<unknown> | Map<unknown, unknown>): unknown[] {
  return value instanceof Map ? Array.from(value.values()) : value instanceof Set ? Array.from(value) : value;
}
