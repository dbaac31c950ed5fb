import { availableParallelism, constants as osConstants } from 'node:os';
import { parseArgs } from 'node:util';
import { EventStore, Position, formatPosition, isPastHead } from '@visitorbase/event-store';
import { AppConfig } from '@visitorbase/platform';
import { ReadModel } from '@visitorbase/read-model';
import { AHEAD_OF_LOG_REMEDY, projectionStatus, rebuildInParallel } from '@visitorbase/users';
import { UsageError } from '../cli-error';
import { Progress } from '../progress';
import { REBUILD_STORES_MODULE, RebuildStoresArgs } from '../rebuild-stores';

export const PROJECTIONS_USAGE = `Usage: visitorbase projections <command> [options]

Commands:
  status      where the users projection stands: read model version,
              checkpoint, head of the log, lag in events and milliseconds
  rebuild     rebuild the read model from the log into a new version beside
              the current one, then switch reads to it atomically

Run "visitorbase projections <command> --help" for its options.
`;

export const STATUS_USAGE = `Usage: visitorbase projections status [--json]

Prints the active read model version (and one being rebuilt), the position
of the last event applied, the head of the log, and the lag: visitor events
not yet applied, and how long the oldest of them has waited. Exits 1 when the
checkpoint is past the head of the log (a read model built from another log).

Options:
  --json       one JSON object instead of text
  -h, --help   this help
`;

const MAX_DEFAULT_WORKERS = 4;

export const REBUILD_USAGE = `Usage: visitorbase projections rebuild [--dry-run] [--workers N]

Folds every visitor event of the log into a new version of the read model
while the service keeps serving reads from the current one, then switches
reads (and the running projector) to the new version atomically. Interrupted,
it resumes where it stopped when run again.

Options:
  --dry-run      say what would be done, and do nothing
  --workers N    fold N shares of the visitors at once, one per thread
                 (default: one per core, at most ${MAX_DEFAULT_WORKERS}, on the embedded event
                 store; 1 on EventStoreDB, where each share would read the
                 whole log); --workers 1 leaves the other cores to the service
  -h, --help     this help
`;

/**
 * Beside a live service the rebuild saves every second, in writes of at most
 * 1 000 profiles with a pause between them: the live projector needs the same
 * SQLite write lock, and waits at most one such write.
 */
const LIVE_SAVES = { saveEveryMs: 1_000, maxProfilesPerWrite: 1_000 } as const;

/** Shares folded at once unless told: one per core where reading the log is local. */
function defaultWorkers(config: AppConfig): number {
  return config.eventStore?.kind === 'eventstoredb' ? 1 : Math.min(availableParallelism(), MAX_DEFAULT_WORKERS);
}

function workerCount(text: string): number {
  const count = /^[1-9][0-9]{0,2}$/.test(text) ? Number(text) : NaN;
  if (!(count <= 64)) throw new UsageError(`--workers must be a whole number from 1 to 64, got "${text}"\n\n${REBUILD_USAGE}`);
  return count;
}

export interface Stores {
  /** What the stores were opened from: the rebuild's worker threads open them again from it. */
  readonly config: AppConfig;
  readonly events: () => Promise<EventStore>;
  readonly readModel: () => Promise<ReadModel>;
}

export async function projections(args: string[], stores: Stores): Promise<void> {
  const [command, ...rest] = args;
  switch (command) {
    case 'status':
      return status(rest, stores);
    case 'rebuild':
      return rebuild(rest, stores);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(PROJECTIONS_USAGE);
      return;
    default:
      throw new UsageError(`unknown command "projections ${command}"\n\n${PROJECTIONS_USAGE}`);
  }
}

async function status(args: string[], stores: Stores): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(STATUS_USAGE);
    return;
  }
  const [events, readModel] = await Promise.all([stores.events(), stores.readModel()]);
  try {
    const s = await projectionStatus(events, readModel);
    const text = (p: Position | undefined) => (p === undefined ? null : formatPosition(p));
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({
          activeVersion: s.versions.active,
          buildingVersion: s.versions.building ?? null,
          checkpoint: text(s.checkpoint),
          buildingCheckpoint: text(s.buildingCheckpoint),
          head: text(s.head),
          lagEvents: s.lagEvents,
          lagEventsCapped: s.lagEventsCapped,
          lagMs: s.lagMs,
          aheadOfLog: s.aheadOfLog,
        })}\n`,
      );
      if (s.aheadOfLog) process.exitCode = 1;
      return;
    }
    const lines = [
      `read model version  ${s.versions.active}`,
      ...(s.versions.building !== undefined
        ? [`rebuilding version  ${s.versions.building} (at ${text(s.buildingCheckpoint) ?? 'the start of the log'})`]
        : []),
      `checkpoint          ${text(s.checkpoint) ?? 'none (nothing applied yet)'}`,
      `head of the log     ${text(s.head) ?? 'none (the log is empty)'}`,
      `lag                 ${s.lagEventsCapped ? 'more than ' : ''}${s.lagEvents} events, ${s.lagMs} ms`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (s.aheadOfLog) {
      process.stderr.write(`the checkpoint is past the head of the log: ${AHEAD_OF_LOG_REMEDY}\n`);
      process.exitCode = 1;
    }
  } finally {
    await Promise.all([events.close(), readModel.close()]);
  }
}

async function rebuild(args: string[], stores: Stores): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { 'dry-run': { type: 'boolean' }, workers: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(REBUILD_USAGE);
    return;
  }
  const workers = values.workers === undefined ? defaultWorkers(stores.config) : workerCount(values.workers);
  const [events, readModel] = await Promise.all([stores.events(), stores.readModel()]);
  try {
    const { active, building } = await readModel.versions();
    const head = await events.headPosition();
    const headText = head === undefined ? 'the log is empty' : `head of the log at ${formatPosition(head)}`;
    if (values['dry-run']) {
      const resume = building === undefined ? undefined : await readModel.version(building).getCheckpoint();
      process.stdout.write(
        building === undefined
          ? `would rebuild the read model into version ${active + 1} from the start of the log (${headText}), then switch reads from version ${active} to it\n`
          : `would resume rebuilding version ${building} from ${resume ? formatPosition(resume) : 'the start of the log'} (${headText}), then switch reads from version ${active} to it\n`,
      );
      return;
    }
    const target = await readModel.beginRebuild();
    const view = readModel.version(target);
    const from = await view.getCheckpoint();
    process.stderr.write(
      `rebuilding read model version ${target} ${from ? `from ${formatPosition(from)}` : 'from the start of the log'} (${headText}); reads stay on version ${active}\n`,
    );
    const abort = new AbortController();
    let signalled: NodeJS.Signals = 'SIGINT';
    const stop = (signal: NodeJS.Signals) => {
      signalled = signal;
      abort.abort();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const progress = new Progress('rebuild');
    let total = 0;
    try {
      // The live projector keeps moving the active version on: catch up to it, switch, or go round again.
      for (let round = 0; ; round++) {
        const headNow = await events.headPosition();
        const source: RebuildStoresArgs = { config: stores.config, version: target };
        const result = await rebuildInParallel(events, view, {
          ...LIVE_SAVES,
          // Catching up is a few pages: not worth starting threads for, and quicker to switch without them.
          workers: round === 0 ? workers : 1,
          stores: { module: REBUILD_STORES_MODULE, args: source },
          signal: abort.signal,
          onProgress: (p) =>
            progress.update(total + p.events, headNow && headNow.commit > 0n ? Number((p.position.commit * 10_000n) / headNow.commit) / 10_000 : undefined),
        });
        total += result.events;
        if (abort.signal.aborted) {
          progress.done();
          // What was saved, not what was folded: the shares save on their own, and a resume starts
          // from where all of them had saved.
          const saved = await view.getCheckpoint();
          process.stderr.write(
            `rebuild interrupted after folding ${total} events; saved up to ${saved ? formatPosition(saved) : 'the start of the log'}: run it again to resume from there\n`,
          );
          process.exitCode = 128 + osConstants.signals[signalled];
          return;
        }
        if (await readModel.activate(target)) break;
        if (result.events === 0 && (await activePastHead(readModel, events))) {
          // Caught up with the log, yet behind the active version: the log holds less than what was projected.
          // (Else the live projector merely moved the active version on meanwhile: go round again.)
          throw new Error(`the active read model version ${active} is past the head of the log: ${AHEAD_OF_LOG_REMEDY}`);
        }
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    progress.done();
    const at = await view.getCheckpoint();
    process.stdout.write(
      `read model version ${target} is active (rebuilt from ${total} events, at ${at ? formatPosition(at) : 'the start of the log'}); version ${active} is kept until the next rebuild\n`,
    );
  } finally {
    await Promise.all([events.close(), readModel.close()]);
  }
}

/** Whether the active version's checkpoint is past the last event of the log, read now. */
async function activePastHead(readModel: ReadModel, events: EventStore): Promise<boolean> {
  const { active } = await readModel.versions();
  const checkpoint = await readModel.version(active).getCheckpoint();
  const head = await events.headPosition();
  return checkpoint !== undefined && isPastHead(checkpoint, head);
}
