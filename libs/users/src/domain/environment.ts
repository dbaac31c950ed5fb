/**
 * Environment names are part of stream names, so they are kept to a small
 * alphabet without `-`: that is what makes a stream name parse back.
 */
export const ENVIRONMENT_NAME = /^[A-Za-z0-9_]{1,64}$/;

export function isEnvironmentName(name: string): boolean {
  return ENVIRONMENT_NAME.test(name);
}
