import { Position } from '@visitorbase/event-store';
import { Profile, VisitorFact, VisitorKey } from '@visitorbase/users/domain';

/** One version of the read model: its documents and its own checkpoint. */
export interface ReadModelView {
  /** Position of the last event applied, or undefined before the first. */
  getCheckpoint(): Promise<Position | undefined>;
  /**
   * Folds `facts` (in log order) into their documents and records
   * `checkpoint`, in one write where the store allows it. A fact at or below a
   * document's last applied revision is a no-op, so redelivery is harmless.
   */
  apply(facts: readonly VisitorFact[], checkpoint: Position): Promise<void>;
  /**
   * The stored fold state of each visitor asked for, in the order asked
   * (undefined where there is none). With `saveProfiles`, lets a rebuild fold
   * in memory across many pages and write each visitor once per save.
   */
  loadProfiles(keys: readonly VisitorKey[]): Promise<Array<Profile | undefined>>;
  /**
   * Stores whole profiles (each the fold of its stream up to its revision)
   * and records `checkpoint` if given, in one write where the store allows
   * it. A profile at or below the revision already stored changes nothing,
   * and the checkpoint never moves backwards. Without a checkpoint a large
   * save can be split into short writes: the profiles are complete folds, so
   * a crash between them leaves the checkpoint where it was and a resumed
   * fold skips what they already hold.
   */
  saveProfiles(profiles: readonly Profile[], checkpoint?: Position): Promise<void>;
  /** The GET /v2/users/:userId body, ready to send, or undefined. */
  findProfileJson(environment: string, userId: string): Promise<string | undefined>;
}

export interface ReadModelVersions {
  /** The version reads and the live projector use. */
  readonly active: number;
  /** A version being rebuilt beside it, if any. */
  readonly building?: number;
}

/**
 * The aggregated user read model: one document per visitor plus the
 * projector's checkpoint. Its own methods act on the active version. A
 * rebuild folds the log into a new version beside it while it keeps serving,
 * then switches reads to the new version atomically. Every adapter passes
 * `test/contract/read-model.contract.ts`.
 */
export interface ReadModel extends ReadModelView {
  versions(): Promise<ReadModelVersions>;
  /**
   * The version a rebuild writes into: the one already being built, so an
   * interrupted rebuild resumes, or else a new, empty one.
   */
  beginRebuild(): Promise<number>;
  /** A view of one version, for a rebuild to write into. */
  version(version: number): ReadModelView;
  /**
   * Makes `version` the active one, if its checkpoint has reached the active
   * version's (else nothing changes and the answer is false: the live
   * projector has moved on, catch up and try again). The replaced version is
   * kept until the next rebuild begins, so a reader or projector still on it
   * finishes cleanly; a projector notices the switch after its next page and
   * follows the new version from that version's own checkpoint.
   */
  activate(version: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The read model could not be reached or failed; the caller may retry later. */
export class ReadModelUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReadModelUnavailableError';
  }
}

export const READ_MODEL = Symbol('ReadModel');
