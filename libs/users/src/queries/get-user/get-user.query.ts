import { Query } from '@nestjs/cqrs';

/** Answers the profile body as JSON text, or undefined while there is none. */
export class GetUserQuery extends Query<string | undefined> {
  constructor(
    readonly environment: string,
    readonly userId: string,
  ) {
    super();
  }
}
