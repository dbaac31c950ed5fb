import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { NestedEach } from '@visitorbase/platform/validation/nested';
import { IsCleanText, IsWellFormedEmail } from '@visitorbase/platform/validation/text';
import { AttributeValue } from '../../domain/events';
import { LIMITS } from '../../domain/limits';
import { IsAttributeMap } from './attribute-map.validator';

export class TrackedEventDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(LIMITS.eventNameLength)
  @IsCleanText()
  event!: string;

  /** Milliseconds since the epoch; defaults to when the request was received. */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(LIMITS.maxTimestamp)
  timestamp?: number | null;
}

/** Body of POST /v2/users. Absent and `null` optional fields mean the same. */
export class UpsertUserDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(LIMITS.userIdLength)
  @IsCleanText()
  userId!: string;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(LIMITS.eventsPerRequest)
  @NestedEach(() => TrackedEventDto, '{"event": string, "timestamp": integer milliseconds}')
  events?: TrackedEventDto[] | null;

  @IsOptional()
  @IsAttributeMap()
  attributes?: Record<string, AttributeValue> | null;

  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.emailLength)
  @IsWellFormedEmail()
  emailAddress?: string | null;
}
