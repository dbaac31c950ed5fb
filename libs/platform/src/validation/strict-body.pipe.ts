import { ArgumentMetadata, BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { ValidationError, ValidationTypes, ValidatorOptions, validateSync } from 'class-validator';
import { passesCompiledRules } from './compiled-rules';
import { isPlainObject, toInstance } from './nested';

export const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  // One message per property: the first of its rules that fails, in the order they run.
  stopAtFirstError: true,
  validationError: { target: false, value: false },
};

/**
 * Validates a JSON body against its DTO's class-validator decorators, the
 * single source of the rules. Unlike Nest's stock ValidationPipe it skips
 * class-transformer and the promise-based validator: the DTO is built
 * directly from the parsed JSON and checked synchronously. A body that
 * passes is recognised by the same rules compiled once per class
 * (`passesCompiledRules`), about a third of `validateSync`'s cost; only a
 * body that fails pays for `validateSync`, to get its messages. Errors keep
 * Nest's shape:
 * `{"statusCode":400,"error":"Bad Request","message":[...]}`.
 */
@Injectable()
export class StrictBodyPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const type = metadata.metatype;
    if (metadata.type !== 'body' || !type || type === Object) return value;
    if (!isPlainObject(value)) {
      throw new BadRequestException(['request body must be a JSON object']);
    }
    const problems: string[] = [];
    const instance = toInstance(type as new () => object, value, problems);
    if (problems.length === 0 && passesCompiledRules(instance)) return instance;
    for (const message of messages(validateSync(instance, VALIDATOR_OPTIONS))) problems.push(message);
    if (problems.length > 0) throw new BadRequestException(listed(problems));
    return instance;
  }
}

/** Most problems a 400 lists; past it, one line says how many more there were. */
export const MAX_LISTED_PROBLEMS = 100;

function listed(problems: string[]): string[] {
  if (problems.length <= MAX_LISTED_PROBLEMS) return problems;
  const more = problems.length - MAX_LISTED_PROBLEMS;
  return [...problems.slice(0, MAX_LISTED_PROBLEMS), `and ${more} more ${more === 1 ? 'problem' : 'problems'} not listed`];
}

/**
 * Flattens errors the way Nest's ValidationPipe does: nested messages are
 * prefixed with their path (`events.0.event must be a string`). A custom
 * constraint may report several problems at once, one per line.
 */
export function messages(errors: readonly ValidationError[], parentPath = ''): string[] {
  const out: string[] = [];
  for (const error of errors) {
    const path = parentPath ? `${parentPath}.${error.property}` : error.property;
    for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
      // class-validator names an unknown property as it was sent: quoted when it is not a
      // plain name, a name with a line break stays one line, and an empty one shows.
      const lines = constraint === ValidationTypes.WHITELIST ? [`property ${propertyLabel(error.property)} should not exist`] : message.split('\n');
      for (const line of lines) out.push(parentPath ? `${parentPath}.${line}` : line);
    }
    if (error.children?.length) for (const message of messages(error.children, path)) out.push(message);
  }
  return out;
}

const PLAIN_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertyLabel(name: string): string {
  return PLAIN_NAME.test(name) ? name : JSON.stringify(name);
}
