import { once } from 'node:events';
import { Stats, close as closeFile, createWriteStream, fstat, ftruncate, open as openFile } from 'node:fs';
import { Writable } from 'node:stream';
import { resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { constants as osConstants } from 'node:os';
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
  --since TIME          recorded at or after TIME: milliseconds since the epoch, a date
                        (2026-11-28, midnight UTC) or a time with its offset (…T09:30Z)
  --until TIME          recorded before TIME, written the same way
  --from-position POS   only events after POS (the position of the last line seen)
  --limit N             at most N events
  --follow              keep streaming new events once the log is read (with --until,
                        until a second after the clock passes it)
  --out FILE            write to FILE instead of stdout (replacing what it held); a relative
                        FILE is from the directory the command was typed in, npm run cli too
  --append              with --out, add to the end of FILE instead
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
      append: { type: 'boolean' },
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
  if (values.append && values.out === undefined) problems.push('--append needs --out FILE');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const events = await store();
  let head: Position | undefined;
  let output: Output;
  try {
    head = values.follow ? undefined : await events.headPosition();
    // Opened once the store is (a store that cannot be opened leaves an existing file as it was),
    // and before anything is read: a path that cannot be written is an error at once.
    output = await openOutput(values.out === undefined ? undefined : callerPath(values.out), values.append === true);
  } catch (error) {
    await events.close();
    throw error;
  }
  /** The bytes of the lines written whole, after what the file held before (with --append, or `>>`). */
  let confirmedBytes = 0;
  const abort = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  let failure: Error | undefined;
  const stop = (signal: NodeJS.Signals) => {
    signalled = signal;
    abort.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const out = output.stream;
  out.on('error', (error: NodeJS.ErrnoException) => {
    // A reader that goes away (`| head`) ends the replay quietly; any other failure (a full disk) is reported.
    if (error.code !== 'EPIPE') failure ??= error;
    abort.abort();
  });
  const progress = new Progress('replay', process.stderr, out);
  let count = 0;
  /** What the output took for certain: lines whose write completed, and the position of the last of them. */
  let flushed = 0;
  let last: string | undefined;
  let readFailure: Error | undefined;
  try {
    for await (const line of replayEvents(events, { ...filter, environment: values.env, follow: values.follow, signal: abort.signal })) {
      if (abort.signal.aborted) break;
      const position = line.position;
      const text = `${JSON.stringify(line)}\n`;
      const drained = out.write(text, (error) => {
        if (error) return;
        flushed += 1;
        last = position;
        confirmedBytes += Buffer.byteLength(text);
      });
      count += 1;
      progress.update(count, fraction(line.position, head));
      // Bound to the abort, so that no wait leaves a listener behind.
      if (!drained) await once(out, 'drain', { signal: abort.signal }).catch(() => undefined);
    }
  } catch (error) {
    readFailure = error as Error;
  } finally {
    progress.done();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (output.file === undefined) {
      // Lines still buffered are written before the process ends: wait for them, and for the callbacks
      // of those written, so that the count and the position to resume from are those of what the reader gets.
      if (out.writableLength > 0 && !out.destroyed) await once(out, 'drain').catch(() => undefined);
      if (!out.destroyed) await new Promise<void>((resolve) => out.write('', () => resolve()));
    } else if (!out.destroyed) {
      // The last lines may fail only now, as the file is flushed: that is a failure too.
      await new Promise<void>((resolve) =>
        out.end((error?: Error | null) => {
          if (error) failure ??= error;
          resolve();
        }),
      );
    }
    await events.close();
  }
  const written = `${countOf(flushed)}${values.out ? ` written to ${values.out}` : ''}`;
  // Where to pick up from: after the last line the output is known to hold.
  const resume = last ? `; resume with --from-position ${last}${values.out ? ' --append' : ''}` : '';
  if (failure) {
    // A write that fails part-way (a full disk) may leave more lines than were confirmed, the last one
    // torn: the file is cut back to the lines confirmed, which the count and the resume position describe.
    const cut = await output.file
      ?.cutBack?.(confirmedBytes)
      .then(() => '')
      .catch((error: Error) => `; the file could not be cut back to those lines (${error.message}), and its last line may be torn`);
    await output.file?.close();
    throw new Error(`writing ${values.out ?? 'stdout'} failed after ${written}${resume}${cut ?? ''}: ${failure.message}`);
  }
  await output.file?.close();
  if (readFailure) throw new Error(`reading the event store failed after ${written}${resume}: ${readFailure.message}`);
  if (signalled !== undefined && !values.follow) {
    // Stopped before the end of what was asked: say so, and where to pick up.
    process.stderr.write(`replay interrupted after ${written}${resume}\n`);
    process.exitCode = 128 + osConstants.signals[signalled];
    return;
  }
  // A follow stopped by a signal is its normal end: say where it stood, for the next one to go on from.
  process.stderr.write(`replay: ${written}${signalled !== undefined ? resume : ''}\n`);
}

function countOf(count: number): string {
  return `${count} ${count === 1 ? 'event' : 'events'}`;
}

function fraction(position: string, head: Position | undefined): number | undefined {
  if (head === undefined || head.commit <= 0n) return undefined;
  const commit = BigInt(position.split('/')[0]);
  return Number((commit * 10_000n) / head.commit) / 10_000;
}

/**
 * A path as the caller meant it. `npm run cli` runs the command from the
 * package's root, not from where it was typed; npm says where that was in
 * INIT_CWD. Run any other way, the working directory is the caller's own.
 */
export function callerPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  const typedIn = env.npm_lifecycle_event === 'cli' ? env.INIT_CWD : undefined;
  return resolve(typedIn ?? process.cwd(), path);
}

/** Where the lines go. A file (--out, or stdout redirected to one) can be cut back to the lines counted. */
interface Output {
  readonly stream: Writable;
  readonly file?: {
    /** Cuts the file to what it held before the replay and `bytes` more; absent for a device or a pipe (`--out /dev/full`). */
    cutBack?(bytes: number): Promise<void>;
    close(): Promise<void>;
  };
}

async function openOutput(path: string | undefined, append: boolean): Promise<Output> {
  if (path !== undefined) {
    const fd = await promisify(openFile)(path, append ? 'a' : 'w');
    const info = await promisify(fstat)(fd);
    // Left open when the stream ends or fails: the file is cut back through it, not by a path that may have moved.
    return { stream: createWriteStream(path, { fd, autoClose: false }), file: fileAt(fd, info, true) };
  }
  const stdout = await promisify(fstat)(1).catch(() => undefined);
  if (stdout?.isFile()) {
    // process.stdout writes to a file synchronously and ignores a short write: a line that did not
    // fit whole would count as written. A file stream on the same descriptor retries short writes.
    return { stream: createWriteStream('/dev/stdout', { fd: 1, autoClose: false }), file: fileAt(1, stdout, false) };
  }
  return { stream: process.stdout };
}

function fileAt(fd: number, info: Stats, owned: boolean): NonNullable<Output['file']> {
  const close = async () => {
    if (owned) await promisify(closeFile)(fd);
  };
  return info.isFile() ? { cutBack: (bytes) => promisify(ftruncate)(fd, info.size + bytes), close } : { close };
}
