import {
  Collection,
  Db,
  Filter,
  MongoBulkWriteError,
  MongoClient,
  MongoClientOptions,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { Position, comparePositions, position } from '@visitorbase/event-store';
import { Profile, VisitorFact, VisitorKey, toView, visitorId } from '@visitorbase/users/domain';
import { ReadModel, ReadModelUnavailableError, ReadModelVersions, ReadModelView } from '../read-model.port';
import { VisitorDocument, pageWrites, toDocument, toProfile } from './visitor-document';

const DEFAULT_DATABASE = 'visitorbase';
const CHECKPOINTS = 'checkpoints';
const META = 'meta';
/** The document of `meta` that names the active version and the one being rebuilt. */
const VERSIONS = 'read-model';
/** How long an operation waits for a server before failing, unless the URL says otherwise. */
const SERVER_SELECTION_TIMEOUT_MS = 5_000;

interface CheckpointDocument {
  _id: string;
  commit: bigint;
  prepare: bigint;
}

interface VersionsDocument {
  _id: string;
  active: number;
  building?: number;
}

/** Version 1 keeps the collection and checkpoint names of a read model made before versions existed. */
function usersCollection(version: number): string {
  if (!Number.isSafeInteger(version) || version < 1) throw new RangeError(`invalid read model version ${version}`);
  return version === 1 ? 'users' : `users_v${version}`;
}

export interface MongoReadModelOptions {
  /** Overrides the database named in the URL (default `visitorbase`). */
  readonly databaseName?: string;
}

/**
 * The production read model: one document per visitor in `users` (version 1)
 * or `users_v<N>`, each version's checkpoint in `checkpoints`, and the active
 * and rebuilding versions in `meta`. A page of facts is one ordered
 * `bulkWrite`; the checkpoint is written after it, so a crash in between
 * replays facts the revision guards then ignore.
 *
 * The GET body is rendered from the document by the same `toView` the
 * SQLite read model uses, so both backends answer byte for byte the same.
 */
export class MongoReadModel implements ReadModel {
  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly checkpoints: Collection<CheckpointDocument>,
    private readonly meta: Collection<VersionsDocument>,
  ) {}

  /** Connects, then creates the indexes, so an unreachable server fails at start. */
  static async connect(url: string, options: MongoReadModelOptions = {}): Promise<MongoReadModel> {
    const client = new MongoClient(url, clientOptions(url));
    try {
      await client.connect();
      const db = client.db(options.databaseName ?? databaseNameOf(url) ?? DEFAULT_DATABASE);
      const readModel = new MongoReadModel(
        client,
        db,
        db.collection<CheckpointDocument>(CHECKPOINTS),
        db.collection<VersionsDocument>(META),
      );
      await readModel.createIndexes(await readModel.activeVersion());
      return readModel;
    } catch (error) {
      await client.close().catch(() => undefined);
      throw toReadModelError(error);
    }
  }

  getCheckpoint(): Promise<Position | undefined> {
    return guard(async () => this.checkpointOf(await this.activeVersion()));
  }

  apply(facts: readonly VisitorFact[], checkpoint: Position): Promise<void> {
    return guard(async () => this.applyTo(await this.activeVersion(), facts, checkpoint));
  }

  loadProfiles(keys: readonly VisitorKey[]): Promise<Array<Profile | undefined>> {
    return guard(async () => this.loadFrom(await this.activeVersion(), keys));
  }

  saveProfiles(profiles: readonly Profile[], checkpoint?: Position): Promise<void> {
    return guard(async () => this.saveTo(await this.activeVersion(), profiles, checkpoint));
  }

  findProfileJson(environment: string, userId: string): Promise<string | undefined> {
    return guard(async () => this.findIn(await this.activeVersion(), environment, userId));
  }

  versions(): Promise<ReadModelVersions> {
    return guard(async () => {
      const doc = await this.meta.findOne({ _id: VERSIONS });
      const active = doc?.active ?? 1;
      return doc?.building === undefined ? { active } : { active, building: doc.building };
    });
  }

  beginRebuild(): Promise<number> {
    return guard(async () => {
      const { active, building } = await this.versions();
      if (building !== undefined) return building;
      // The version replaced by the last rebuild is no longer read by anyone: make room.
      const names = (await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      for (const name of names) {
        const match = /^users(?:_v(\d+))?$/.exec(name);
        const version = match ? Number(match[1] ?? 1) : undefined;
        if (version !== undefined && version !== active) await this.dropVersion(version);
      }
      const next = active + 1;
      await this.createIndexes(next);
      // Only if no other rebuild began meanwhile; else resume that one.
      await this.meta.updateOne(
        { _id: VERSIONS, building: { $exists: false } },
        { $set: { building: next }, $setOnInsert: { active } },
        { upsert: true },
      ).catch((error: unknown) => {
        if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
      });
      return (await this.versions()).building ?? next;
    });
  }

  version(version: number): ReadModelView {
    usersCollection(version);
    return {
      getCheckpoint: () => guard(() => this.checkpointOf(version)),
      apply: (facts, checkpoint) => guard(() => this.applyTo(version, facts, checkpoint)),
      loadProfiles: (keys) => guard(() => this.loadFrom(version, keys)),
      saveProfiles: (profiles, checkpoint) => guard(() => this.saveTo(version, profiles, checkpoint)),
      findProfileJson: (environment, userId) => guard(() => this.findIn(version, environment, userId)),
    };
  }

  activate(version: number): Promise<boolean> {
    return guard(async () => {
      const { active } = await this.versions();
      if (version === active) return true;
      const built = await this.checkpointOf(version);
      const current = await this.checkpointOf(active);
      if (current !== undefined && (built === undefined || comparePositions(built, current) < 0)) return false;
      // Compare and set: fails if another switch won meanwhile.
      try {
        const result = await this.meta.updateOne(
          { _id: VERSIONS, active: active === 1 ? { $in: [1, null] } : active } as Filter<VersionsDocument>,
          { $set: { active: version }, $unset: { building: '' } },
          { upsert: active === 1 },
        );
        return result.matchedCount + result.upsertedCount === 1;
      } catch (error) {
        // The upsert met a document another switch wrote meanwhile.
        if (error instanceof MongoServerError && error.code === 11000) return false;
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private users(version: number): Collection<VisitorDocument> {
    return this.db.collection<VisitorDocument>(usersCollection(version));
  }

  /**
   * Read fresh every time, GETs included: a reader that kept the previous
   * version after a switch could miss a write whose consistency token the
   * projector has already honoured in the new one.
   */
  private async activeVersion(): Promise<number> {
    const doc = await this.meta.findOne({ _id: VERSIONS });
    return doc?.active ?? 1;
  }

  private async createIndexes(version: number): Promise<void> {
    await this.users(version).createIndex({ environment: 1, userId: 1 }, { unique: true, name: 'environment_userId' });
  }

  private async dropVersion(version: number): Promise<void> {
    await this.users(version).drop().catch((error: unknown) => {
      // Already gone is what we want.
      if (!(error instanceof MongoServerError && error.codeName === 'NamespaceNotFound')) throw error;
    });
    await this.checkpoints.deleteOne({ _id: usersCollection(version) });
  }

  private async checkpointOf(version: number): Promise<Position | undefined> {
    const doc = await this.checkpoints.findOne({ _id: usersCollection(version) }, { useBigInt64: true });
    return doc ? position(doc.commit, doc.prepare) : undefined;
  }

  private async applyTo(version: number, facts: readonly VisitorFact[], checkpoint: Position): Promise<void> {
    const writes = pageWrites(facts);
    // Ordered: a visitor's updates must run in stream order, and a failure stops the page before its checkpoint.
    if (writes.length > 0) await this.users(version).bulkWrite(writes, { ordered: true });
    await this.advanceCheckpoint(version, checkpoint);
  }

  private async loadFrom(version: number, keys: readonly VisitorKey[]): Promise<Array<Profile | undefined>> {
    const ids = keys.map(({ environment, userId }) => visitorId(environment, userId));
    const found = new Map<string, Profile>();
    for await (const doc of this.users(version).find({ _id: { $in: ids }, revision: { $gte: 0 } })) found.set(doc._id, toProfile(doc));
    return ids.map((id) => found.get(id));
  }

  /**
   * Each profile replaces its document only if the stored revision is lower.
   * Where it is not, the guarded upsert meets the existing `_id` and fails
   * with a duplicate key: that is the "already newer" answer, not an error.
   */
  private async saveTo(version: number, profiles: readonly Profile[], checkpoint: Position | undefined): Promise<void> {
    if (profiles.length > 0) {
      const writes = profiles.map((profile) => {
        const doc = toDocument(profile);
        return { replaceOne: { filter: { _id: doc._id, revision: { $lt: doc.revision } }, replacement: doc, upsert: true } };
      });
      await this.users(version)
        .bulkWrite(writes, { ordered: false })
        .catch((error: unknown) => {
          if (!onlyAlreadyNewer(error)) throw error;
        });
    }
    if (checkpoint !== undefined) await this.advanceCheckpoint(version, checkpoint);
  }

  /** Never backwards: two projectors may write in either order. */
  private async advanceCheckpoint(version: number, checkpoint: Position): Promise<void> {
    const id = usersCollection(version);
    await this.checkpoints
      .updateOne(
        {
          _id: id,
          $or: [
            { commit: { $lt: checkpoint.commit } },
            { commit: checkpoint.commit, prepare: { $lt: checkpoint.prepare } },
          ],
        },
        { $set: { commit: checkpoint.commit, prepare: checkpoint.prepare } },
        { upsert: true },
      )
      .catch((error: unknown) => {
        // The upsert found a checkpoint at or past this one: nothing to write.
        if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
      });
  }

  private async findIn(version: number, environment: string, userId: string): Promise<string | undefined> {
    const doc = await this.users(version).findOne({ environment, userId, revision: { $gte: 0 } });
    return doc ? JSON.stringify(toView(toProfile(doc))) : undefined;
  }
}

/**
 * Whether a failed `saveProfiles` bulk write failed only because some
 * documents were already at or past the revision given: its guarded upserts
 * then meet the existing `_id`, a duplicate key and nothing else. The driver
 * also reports a lost connection, a timeout or a write concern failure as a
 * bulk write error, with no write errors of its own: those must not pass for
 * "already newer", or the checkpoint would move past profiles never written.
 */
export function onlyAlreadyNewer(error: unknown): boolean {
  if (!(error instanceof MongoBulkWriteError)) return false;
  const writeErrors = [error.writeErrors].flat().filter((e) => e !== undefined);
  if (writeErrors.length === 0 || !writeErrors.every((e) => e.code === 11000)) return false;
  const result = error.result as { getWriteConcernError?: () => unknown } | undefined;
  return error.err === undefined && result?.getWriteConcernError?.() === undefined;
}

/** Our default for a quick failure when the server is gone; a timeout set in the URL wins. */
function clientOptions(url: string): MongoClientOptions {
  return /[?&]serverSelectionTimeoutMS=/i.test(url) ? {} : { serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS };
}

/** The database in the URL's path, if it names one. */
export function databaseNameOf(url: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?#]*\/([^?#]+)/i.exec(url);
  return match ? decodeURIComponent(match[1]) : undefined;
}

async function guard<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toReadModelError(error);
  }
}

/** A server that cannot be reached or is between primaries is unavailable; other errors stay what they are. */
function toReadModelError(error: unknown): unknown {
  if (isTransient(error)) {
    return new ReadModelUnavailableError(`MongoDB: ${(error as Error).message}`, { cause: error });
  }
  return error;
}

function isTransient(error: unknown): boolean {
  return (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoOperationTimeoutError ||
    (error instanceof MongoError &&
      (error.hasErrorLabel(MongoErrorLabel.RetryableWriteError) || error.hasErrorLabel(MongoErrorLabel.ResetPool)))
  );
}
