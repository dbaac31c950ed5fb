/** The request limits of POST /v2/users, in one place for the DTOs and the docs. */
export const LIMITS = {
  userIdLength: 512,
  eventsPerRequest: 1000,
  eventNameLength: 255,
  attributesPerRequest: 1000,
  attributeNameLength: 255,
  attributeStringLength: 4096,
  /** The longest address validator.js's isEmail takes (the longest path SMTP allows, RFC 5321, less its brackets). */
  emailLength: 254,
  /** Largest millisecond timestamp a JavaScript Date can hold (year 275760). */
  maxTimestamp: 8_640_000_000_000_000,
  bodyBytes: 1024 * 1024,
} as const;
