import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { EventStore, Position } from '@visitorbase/event-store';
import { isEnvironmentName, parseReplayFilter, replayEvents } from '@visitorbase/users';
import { UsageError } from '../cli-error';
import { Progress } from '../progress';

export const REPLAY_USAGE = `Usage: visitorbase replay [options]

Writes the raw visitor events of the log as NDJSON, in global order, one
event a line: environment, userId, stream, revision, position, type, data
(exactly as appended) and recordedAt (milliseconds).

Options:
  --env NAME            only this environment
  --user ID             only this visitor (with --env and without --follow: reads its stream alone)
  --type TYPE           only events of this type (UserUpserted, EventTracked)
  --since TIME          recorded at or after TIME (milliseconds or ISO 8601)
  --until TIME          recorded before TIME (milliseconds or ISO 8601)
  --from-position POS   only events after POS (the position of the last line seen)
  --limit N             at most N events
  --follow              keep streaming new events once the log is read
  --out FILE            write to FILE instead of stdout
  -h, --help            this help
`;

export async function replay(args: string[], store: () => Promise<EventStore>): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      env: { type: 'string' },
      user: { type: 'string' },
      type: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      'from-position': { type: 'string' },
      limit: { type: 'string' },
      follow: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(REPLAY_USAGE);
    return;
  }
  const { filter, problems } = parseReplayFilter(
    {
      userId: values.user,
      type: values.type,
      since: values.since,
      until: values.until,
      fromPosition: values['from-position'],
      limit: values.limit,
    },
    { userId: '--user', type: '--type', since: '--since', until: '--until', fromPosition: '--from-position', limit: '--limit' },
  );
  if (values.env !== undefined && !isEnvironmentName(values.env)) problems.push('--env must be letters, digits and _');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const events = await store();
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const out = values.out ? createWriteStream(values.out) : process.stdout;
  // A reader that goes away (`| head`) ends the replay quietly.
  out.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') stop();
    else throw error;
  });
  const head = values.follow ? undefined : await events.headPosition();
  const progress = new Progress('replay');
  let count = 0;
  try {
    for await (const line of replayEvents(events, { ...filter, environment: values.env, follow: values.follow, signal: abort.signal })) {
      if (!out.write(`${JSON.stringify(line)}\n`)) await Promise.race([once(out, 'drain'), once(abort.signal, 'abort')]);
      if (abort.signal.aborted) break;
      count += 1;
      progress.update(count, fraction(line.position, head));
    }
  } finally {
    progress.done();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (out !== process.stdout) await new Promise<void>((resolve) => out.end(resolve));
    await events.close();
  }
  process.stderr.write(`replay: ${count} events${values.out ? ` written to ${values.out}` : ''}\n`);
}

function fraction(position: string, head: Position | undefined): number | undefined {
  if (head === undefined || head.commit <= 0n) return undefined;
  const commit = BigInt(position.split('/')[0]);
  return Number((commit * 10_000n) / head.commit) / 10_000;
}
