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
}

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
    dataDir: resolve(env.DATA_DIR || './data'),
    port: parsePort(env.PORT),
    host: env.HOST || '127.0.0.1',
    apiKeys: env.API_KEYS && env.API_KEYS.trim() !== '' ? env.API_KEYS : undefined,
    projectorEnabled: parseBoolean('PROJECTOR', env.PROJECTOR, true),
  };
}

function parsePort(text: string | undefined): number {
  if (text === undefined || text === '') return 3000;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(text)}`);
  }
  return port;
}

function parseBoolean(name: string, text: string | undefined, fallback: boolean): boolean {
  if (text === undefined || text === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(text)}`);
}
