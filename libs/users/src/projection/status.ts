import { EventStore, Position, comparePositions, isPastHead } from '@visitorbase/event-store';
import { ReadModel, ReadModelVersions } from '@visitorbase/read-model';
import { VISITOR_STREAM_PREFIX } from '../domain/visitor-stream';

export interface ProjectionStatus {
  readonly versions: ReadModelVersions;
  /** Last position applied to the active version. */
  readonly checkpoint?: Position;
  /** Last position applied to the version being rebuilt. */
  readonly buildingCheckpoint?: Position;
  /** Last event of the log. */
  readonly head?: Position;
  /** Visitor events in the log past the checkpoint, counted up to `countLimit`. */
  readonly lagEvents: number;
  /** Whether there were more than `lagEvents`. */
  readonly lagEventsCapped: boolean;
  /** How long the oldest event not yet applied has been waiting, in milliseconds; 0 when caught up. */
  readonly lagMs: number;
  /**
   * The checkpoint is past the last event of the log: the read model was
   * built from another log (a store restored from a backup, another data
   * directory), and events appended now sit before its checkpoint, where the
   * projection will never look.
   */
  readonly aheadOfLog: boolean;
}

/** The remedy for a read model ahead of its log, for messages. */
export const AHEAD_OF_LOG_REMEDY =
  'the read model was built from another event store: stop the service, remove its read model (read-model.sqlite, or the MongoDB database), and start it again to project this log from its start';

/** Where the projection stands against the log, for operators and metrics. */
export async function projectionStatus(
  store: EventStore,
  readModel: ReadModel,
  options: { countLimit?: number; now?: number } = {},
): Promise<ProjectionStatus> {
  const countLimit = options.countLimit ?? 1_000_000;
  const versions = await readModel.versions();
  const [checkpoint, buildingCheckpoint] = await Promise.all([
    readModel.getCheckpoint(),
    versions.building === undefined ? undefined : readModel.version(versions.building).getCheckpoint(),
  ]);
  // Read after the checkpoints, never beside them: the head only grows, so a checkpoint is then never
  // past it unless the read model was built from another log (read at once, an event appended and
  // projected between the two answers could put a live checkpoint past a head read a moment before).
  const head = await store.headPosition();
  let lagEvents = 0;
  let lagEventsCapped = false;
  let oldestWaiting: number | undefined;
  if (head !== undefined && (checkpoint === undefined || comparePositions(head, checkpoint) > 0)) {
    for await (const event of store.readAll({ after: checkpoint, streamPrefix: VISITOR_STREAM_PREFIX })) {
      oldestWaiting ??= event.recordedAt;
      if (lagEvents >= countLimit) {
        lagEventsCapped = true;
        break;
      }
      lagEvents += 1;
    }
  }
  const now = options.now ?? Date.now();
  return {
    versions,
    ...(checkpoint ? { checkpoint } : {}),
    ...(buildingCheckpoint ? { buildingCheckpoint } : {}),
    ...(head ? { head } : {}),
    lagEvents,
    lagEventsCapped,
    lagMs: oldestWaiting === undefined ? 0 : Math.max(0, now - oldestWaiting),
    aheadOfLog: checkpoint !== undefined && isPastHead(checkpoint, head),
  };
}
