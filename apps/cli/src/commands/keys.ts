import { parseArgs } from 'node:util';
import { addKeyToDataDir } from '@visitorbase/platform';
import { isEnvironmentName } from '@visitorbase/users';
import { UsageError } from '../cli-error';

export const KEYS_USAGE = `Usage: visitorbase keys create --env NAME

Makes a new random API key for environment NAME and prints it once. Only its
SHA-256 hash is stored, in api-keys.json under DATA_DIR, which a service
without API_KEYS reads at start and follows while it runs: the key works
within a second, with no restart. With API_KEYS, add the printed entry to it
instead (and restart).

Options:
  --env NAME   the environment the key writes to and reads from
  -h, --help   this help
`;

/** `warnings`: why the key file of `dataDir` may not be what a service reads, said once the key is made. */
export async function keys(args: string[], dataDir: string, warnings: readonly string[] = []): Promise<void> {
  const [command, ...rest] = args;
  if (command === undefined || command === '-h' || command === '--help') {
    process.stdout.write(KEYS_USAGE);
    return;
  }
  if (command !== 'create') throw new UsageError(`unknown command "keys ${command}"\n\n${KEYS_USAGE}`);
  const { values } = parseArgs({ args: rest, strict: true, options: { env: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(KEYS_USAGE);
    return;
  }
  if (!values.env) throw new UsageError(`--env NAME is required\n\n${KEYS_USAGE}`);
  if (!isEnvironmentName(values.env)) {
    throw new UsageError(`--env must be 1 to 64 letters, digits and _, got ${JSON.stringify(values.env)}`);
  }
  const { key, file } = addKeyToDataDir(dataDir, values.env);
  process.stdout.write(
    `A new API key for environment "${values.env}". It is shown only this once:\n\n` +
      `    Authorization: API-Key ${key}\n\n` +
      `Its hash was added to ${file}; a running service accepts it within a second.\n` +
      `If the service is configured with API_KEYS, add this entry to it instead, and restart it:\n\n` +
      `    ${values.env}:${key}\n`,
  );
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
}
