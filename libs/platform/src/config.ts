import { resolve } from 'node:path';

export interface AppConfig {
  /** Directory of the embedded SQLite files and the generated key file. */
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  /** `API_KEYS` as given (`env:key,env:key`), or undefined to use the key file. */
  readonly apiKeys: string | undefined;
  /** Whether this process runs the projector beside the API. */
  readonly projectorEnabled: boolean;
  /**
   * Whether that projector runs on a worker thread of its own (from the
   * build only: the thread runs compiled JavaScript) instead of on the event
   * loop that serves requests. Absent: on the event loop.
   */
  readonly projectorThread?: boolean;
  /** pino level of the JSON logs: fatal, error, warn, info, debug, trace or silent. */
  readonly logLevel: LogLevelName;
  /** Longest a GET with an X-Consistency-Token waits for the projection. */
  readonly consistencyTimeoutMs: number;
  /** Where events are kept; the embedded SQLite file when absent. */
  readonly eventStore?: EventStoreBackend;
  /** Where profiles and the checkpoint are kept; the embedded SQLite file when absent. */
  readonly readModel?: ReadModelBackend;
  /** Requests per second (and burst) allowed to each API key; unlimited when absent. */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number };
  /** Longest an orderly shutdown may take before the process gives up and exits 1 (default 10 s). */
  readonly shutdownTimeoutMs?: number;
}

export type EventStoreBackend = { readonly kind: 'sqlite' } | { readonly kind: 'eventstoredb'; readonly url: string };
export type ReadModelBackend = { readonly kind: 'sqlite' } | { readonly kind: 'mongodb'; readonly url: string };

export type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const APP_CONFIG = Symbol('AppConfig');

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from environment variables; the defaults need no server. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    dataDir: resolve(env.DATA_DIR?.trim() || './data'),
    port: parsePort(env.PORT),
    host: env.HOST || '127.0.0.1',
    apiKeys: env.API_KEYS && env.API_KEYS.trim() !== '' ? env.API_KEYS : undefined,
    projectorEnabled: parseBoolean('PROJECTOR', env.PROJECTOR, true),
    projectorThread: parseBoolean('PROJECTOR_THREAD', env.PROJECTOR_THREAD, true),
    logLevel: choice('LOG_LEVEL', env.LOG_LEVEL, ['info', 'fatal', 'error', 'warn', 'debug', 'trace', 'silent'] as const),
    consistencyTimeoutMs: parseInteger('CONSISTENCY_TIMEOUT_MS', env.CONSISTENCY_TIMEOUT_MS, 2000, 0, 60_000),
    eventStore: parseEventStore(env),
    readModel: parseReadModel(env),
    rateLimit: parseRateLimit(env),
    shutdownTimeoutMs: parseInteger('SHUTDOWN_TIMEOUT_MS', env.SHUTDOWN_TIMEOUT_MS, 10_000, 100, 600_000),
  };
}

/**
 * The URL without user name, password or secret query values, fit for logs
 * and error messages. The user information ends at the last `@` before the
 * path, since a password is not always percent-encoded.
 */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1')
    .replace(/([?&](?:[^=&#]*(?:password|secret|token)[^=&#]*|authMechanismProperties)=)[^&#]*/gi, '$1***');
}

function parseEventStore(env: NodeJS.ProcessEnv): EventStoreBackend {
  const kind = choice('EVENT_STORE', env.EVENT_STORE, ['sqlite', 'eventstoredb']);
  if (kind === 'sqlite') return { kind };
  const url = requireUrl('EVENT_STORE=eventstoredb', 'EVENTSTORE_URL', env.EVENTSTORE_URL, {
    scheme: /^esdb(\+discover)?:\/\//i,
    example: 'esdb://localhost:2113?tls=false',
  });
  return { kind, url };
}

function parseReadModel(env: NodeJS.ProcessEnv): ReadModelBackend {
  const kind = choice('READ_MODEL', env.READ_MODEL, ['sqlite', 'mongodb']);
  if (kind === 'sqlite') return { kind };
  const url = requireUrl('READ_MODEL=mongodb', 'MONGODB_URL', env.MONGODB_URL, {
    scheme: /^mongodb(\+srv)?:\/\//i,
    example: 'mongodb://localhost:27017/visitorbase',
  });
  return { kind, url };
}

function choice<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T {
  const value = (text ?? '').trim().toLowerCase() || allowed[0];
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`${name} must be ${allowed.join(' or ')}, got ${JSON.stringify(text)}`);
}

function requireUrl(
  selection: string,
  name: string,
  text: string | undefined,
  { scheme, example }: { scheme: RegExp; example: string },
): string {
  const url = (text ?? '').trim();
  if (url === '') throw new ConfigError(`${selection} needs ${name}, e.g. ${name}=${example}`);
  if (!scheme.test(url)) {
    throw new ConfigError(`${name} must look like ${example}, got ${JSON.stringify(redactUrl(url))}`);
  }
  return url;
}

/** `RATE_LIMIT_PER_SECOND` unset or 0: no limit. The burst defaults to one second's worth. */
function parseRateLimit(env: NodeJS.ProcessEnv): AppConfig['rateLimit'] {
  const perSecond = positiveNumber('RATE_LIMIT_PER_SECOND', env.RATE_LIMIT_PER_SECOND);
  const givenBurst = positiveNumber('RATE_LIMIT_BURST', env.RATE_LIMIT_BURST);
  if (givenBurst !== undefined && givenBurst < 1) {
    throw new ConfigError(`RATE_LIMIT_BURST must be at least 1, got ${JSON.stringify(env.RATE_LIMIT_BURST)}`);
  }
  if (perSecond === undefined || perSecond === 0) {
    if (givenBurst !== undefined) throw new ConfigError('RATE_LIMIT_BURST is set without a RATE_LIMIT_PER_SECOND above 0: set both, or neither');
    return undefined;
  }
  return { perSecond, burst: givenBurst ?? Math.max(1, Math.ceil(perSecond)) };
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const trimmed = text.trim();
  if (!/^\d{1,15}(\.\d{1,15})?$/.test(trimmed)) {
    throw new ConfigError(`${name} must be a number, 0 or more, got ${JSON.stringify(text)}`);
  }
  return Number(trimmed);
}

function parsePort(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 3000;
  const port = decimal(text);
  if (port === undefined || port > 65535) {
    throw new ConfigError(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(text)}`);
  }
  return port;
}

/** Digits only: Number() would also take hex, binary, exponents and blanks (Number(' ') is 0). */
function decimal(text: string): number | undefined {
  const trimmed = text.trim();
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : undefined;
}

function parseBoolean(name: string, text: string | undefined, fallback: boolean): boolean {
  if (text === undefined || text === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(text)}`);
}

function parseInteger(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  const value = decimal(text);
  if (value === undefined || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}
