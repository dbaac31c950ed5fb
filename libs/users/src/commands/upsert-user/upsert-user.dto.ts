import {
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  Min,
} from 'class-validator';
import { NestedEach } from '@visitorbase/platform/validation/nested';
import { IsCleanText, IsWellFormedEmail, MaxCharacters } from '@visitorbase/platform/validation/text';
import { AttributeValue } from '../../domain/events';
import { LIMITS } from '../../domain/limits';
import { IsAttributeMap } from './attribute-map.validator';

/*
 * The rules of each property run from the bottom up, and a 400 names the first
 * that fails (`stopAtFirstError`): the most basic rule sits lowest, so that a
 * missing userId is "should not be empty" rather than "must be shorter than".
 */

export class TrackedEventDto {
  @IsCleanText()
  @MaxCharacters(LIMITS.eventNameLength)
  @IsString()
  @IsNotEmpty()
  event!: string;

  /** Milliseconds since the epoch; defaults to when the request was received. */
  @IsOptional()
  @Max(LIMITS.maxTimestamp)
  @Min(0)
  @IsInt()
  timestamp?: number | null;
}

/** Body of POST /v2/users. Absent and `null` optional fields mean the same. */
export class UpsertUserDto {
  @IsCleanText()
  @MaxCharacters(LIMITS.userIdLength)
  @IsString()
  @IsNotEmpty()
  userId!: string;

  @IsOptional()
  @NestedEach(() => TrackedEventDto, '{"event": string, "timestamp": integer milliseconds}', LIMITS.eventsPerRequest)
  events?: TrackedEventDto[] | null;

  @IsOptional()
  @IsAttributeMap()
  attributes?: Record<string, AttributeValue> | null;

  @IsOptional()
  @IsWellFormedEmail()
  @MaxCharacters(LIMITS.emailLength)
  @IsString()
  emailAddress?: string | null;
}
