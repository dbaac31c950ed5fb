import {
  Collection,
  MongoClient,
  MongoClientOptions,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { Position, position } from '@visitorbase/event-store';
import { VisitorFact, toView } from '@visitorbase/users/domain';
import { ReadModel, ReadModelUnavailableError } from '../read-model.port';
import { VisitorDocument, pageWrites, toProfile } from './visitor-document';

const DEFAULT_DATABASE = 'visitorbase';
const USERS = 'users';
const CHECKPOINTS = 'checkpoints';
/** The checkpoint document of the users projection. */
const PROJECTION = 'users';
/** How long an operation waits for a server before failing, unless the URL says otherwise. */
const SERVER_SELECTION_TIMEOUT_MS = 5_000;

interface CheckpointDocument {
  _id: string;
  commit: bigint;
  prepare: bigint;
}

export interface MongoReadModelOptions {
  /** Overrides the database named in the URL (default `visitorbase`). */
  readonly databaseName?: string;
}

/**
 * The production read model: one document per visitor in `users`, the
 * projector's checkpoint in `checkpoints`. A page of facts is one ordered
 * `bulkWrite`; the checkpoint is written after it, so a crash in between
 * replays facts the revision guards then ignore.
 *
 * The GET body is rendered from the document by the same `toView` the
 * SQLite read model uses, so both backends answer byte for byte the same.
 */
export class MongoReadModel implements ReadModel {
  private constructor(
    private readonly client: MongoClient,
    private readonly users: Collection<VisitorDocument>,
    private readonly checkpoints: Collection<CheckpointDocument>,
  ) {}

  /** Connects, then creates the indexes, so an unreachable server fails at start. */
  static async connect(url: string, options: MongoReadModelOptions = {}): Promise<MongoReadModel> {
    const client = new MongoClient(url, clientOptions(url));
    try {
      await client.connect();
      const db = client.db(options.databaseName ?? databaseNameOf(url) ?? DEFAULT_DATABASE);
      const users = db.collection<VisitorDocument>(USERS);
      await users.createIndex({ environment: 1, userId: 1 }, { unique: true, name: 'environment_userId' });
      return new MongoReadModel(client, users, db.collection<CheckpointDocument>(CHECKPOINTS));
    } catch (error) {
      await client.close().catch(() => undefined);
      throw toReadModelError(error);
    }
  }

  async getCheckpoint(): Promise<Position | undefined> {
    const doc = await guard(() => this.checkpoints.findOne({ _id: PROJECTION }, { useBigInt64: true }));
    return doc ? position(doc.commit, doc.prepare) : undefined;
  }

  async apply(facts: readonly VisitorFact[], checkpoint: Position): Promise<void> {
    await guard(async () => {
      const writes = pageWrites(facts);
      // Ordered: a visitor's updates must run in stream order, and a failure stops the page before its checkpoint.
      if (writes.length > 0) await this.users.bulkWrite(writes, { ordered: true });
      await this.checkpoints.updateOne(
        { _id: PROJECTION },
        { $set: { commit: checkpoint.commit, prepare: checkpoint.prepare } },
        { upsert: true },
      );
    });
  }

  async findProfileJson(environment: string, userId: string): Promise<string | undefined> {
    const doc = await guard(() =>
      this.users.findOne({ environment, userId, revision: { $gte: 0 } }),
    );
    return doc ? JSON.stringify(toView(toProfile(doc))) : undefined;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
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
