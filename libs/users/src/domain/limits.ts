/** The request limits of POST /v2/users, in one place for the DTOs and the docs. */
export const LIMITS = {
  userIdLength: 512,
  eventsPerRequest: 1000,
  eventNameLength: 255,
  attributesPerRequest: 1000,
  attributeNameLength: 255,
  attributeStringLength: 4096,
  /**
   * Attribute names and event names one visitor's profile holds, each. A
   * name past them is left out of the profile (its events stay in the log):
   * the projection rewrites a visitor's whole profile on each of its writes,
   * and names that carry ids ("Viewed item 8812") would otherwise grow one
   * profile without end, until MongoDB could not store it (16 MB) and the
   * projection stopped on it. As many as one request may send, so a valid
   * request on its own always fits.
   */
  attributeNamesPerVisitor: 1000,
  eventNamesPerVisitor: 1000,
  /** The longest address validator.js's isEmail takes (the longest path SMTP allows, RFC 5321, less its brackets). */
  emailLength: 254,
  /** Largest millisecond timestamp a JavaScript Date can hold (year 275760). */
  maxTimestamp: 8_640_000_000_000_000,
  bodyBytes: 1024 * 1024,
} as const;
