import Database from 'better-sqlite3';
import { Position, position } from '@visitorbase/event-store';
import { Profile, VisitorFact, evolve, reviveProfile, serializeProfile, toView } from '@visitorbase/users/domain';
import { ReadModel } from '../read-model.port';

/**
 * The embedded read model: one SQLite file beside the event store. Each
 * document keeps its fold state and the response body already serialized,
 * so a GET is one indexed read and no JSON work.
 *
 * `synchronous = NORMAL` is enough here: the documents and the checkpoint
 * commit together, so after a power loss both roll back to the same point
 * and the projector re-applies from there.
 */
export class SqliteReadModel implements ReadModel {
  private readonly db: Database.Database;
  private readonly stmt: {
    load: Database.Statement<[string, string], { state: string }>;
    save: Database.Statement<[string, string, number, string, string]>;
    body: Database.Statement<[string, string], { body: string }>;
    checkpoint: Database.Statement<[], { commit_position: bigint; prepare_position: bigint }>;
    saveCheckpoint: Database.Statement<[bigint, bigint]>;
  };
  private readonly applyInTransaction: (facts: readonly VisitorFact[], checkpoint: Position) => void;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS profiles (
        environment TEXT    NOT NULL,
        user_id     TEXT    NOT NULL,
        revision    INTEGER NOT NULL,
        state       TEXT    NOT NULL,
        body        TEXT    NOT NULL,
        PRIMARY KEY (environment, user_id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS checkpoint (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        commit_position  INTEGER NOT NULL,
        prepare_position INTEGER NOT NULL
      );
    `);
    this.stmt = {
      load: this.db.prepare('SELECT state FROM profiles WHERE environment = ? AND user_id = ?'),
      save: this.db.prepare(
        `INSERT INTO profiles (environment, user_id, revision, state, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (environment, user_id) DO UPDATE SET
           revision = excluded.revision, state = excluded.state, body = excluded.body`,
      ),
      body: this.db.prepare('SELECT body FROM profiles WHERE environment = ? AND user_id = ?'),
      checkpoint: this.db
        .prepare<[], { commit_position: bigint; prepare_position: bigint }>(
          'SELECT commit_position, prepare_position FROM checkpoint WHERE id = 1',
        )
        .safeIntegers(true),
      saveCheckpoint: this.db.prepare(
        `INSERT INTO checkpoint (id, commit_position, prepare_position) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET commit_position = excluded.commit_position, prepare_position = excluded.prepare_position`,
      ),
    };
    this.applyInTransaction = this.db.transaction((facts: readonly VisitorFact[], checkpoint: Position) => {
      const touched = new Map<string, { before: Profile | undefined; after: Profile | undefined }>();
      for (const fact of facts) {
        const key = `${fact.environment}\u0000${fact.userId}`;
        let entry = touched.get(key);
        if (!entry) {
          const row = this.stmt.load.get(fact.environment, fact.userId);
          const before = row ? reviveProfile(row.state) : undefined;
          entry = { before, after: before };
          touched.set(key, entry);
        }
        entry.after = evolve(entry.after, fact);
      }
      for (const { before, after } of touched.values()) {
        if (!after || after === before) continue;
        this.stmt.save.run(
          after.environment,
          after.userId,
          after.revision,
          serializeProfile(after),
          JSON.stringify(toView(after)),
        );
      }
      this.stmt.saveCheckpoint.run(checkpoint.commit, checkpoint.prepare);
    });
  }

  async getCheckpoint(): Promise<Position | undefined> {
    const row = this.stmt.checkpoint.get();
    return row ? position(row.commit_position, row.prepare_position) : undefined;
  }

  async apply(facts: readonly VisitorFact[], checkpoint: Position): Promise<void> {
    this.applyInTransaction(facts, checkpoint);
  }

  async findProfileJson(environment: string, userId: string): Promise<string | undefined> {
    return this.stmt.body.get(environment, userId)?.body;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
