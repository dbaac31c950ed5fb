import Database from 'better-sqlite3';
import { Position, WalCheckpointer, comparePositions, position } from '@visitorbase/event-store';
import { Profile, ProfileDraft, VisitorFact, VisitorKey, foldInto, reviveFromBody, reviveProfile, toView } from '@visitorbase/users/domain';
import { ReadModel, ReadModelVersions, ReadModelView } from '../read-model.port';

interface VersionStatements {
  load: Database.Statement<[string, string], StoredProfile>;
  /**
   * Writes a profile unless the stored one is already at or past its
   * revision. An apply folds from the row it just read inside the same
   * transaction, so there the guard always passes; `saveProfiles` relies on it.
   */
  save: Database.Statement<[string, string, number, string, string]>;
  body: Database.Statement<[string, string], { body: string }>;
}

/** The points inside one apply's transaction, in order, before its commit. */
export type ApplyStep = 'profile-saved' | 'profiles-saved' | 'checkpoint-saved';

export interface SqliteReadModelOptions {
  /**
   * Called at each step of an apply, inside its transaction. A seam for
   * tests to fail there (throw: the transaction rolls back) or die there
   * (the process is killed with the transaction open), between writing the
   * profiles and writing the checkpoint.
   */
  readonly onApplyStep?: (step: ApplyStep) => void;
  /** As for the event store: WAL checkpoints from a background thread (`WalCheckpointer`). */
  readonly backgroundCheckpoints?: boolean;
}

/**
 * The embedded read model: one SQLite file beside the event store. Each
 * document is the response body already serialized, with its key and
 * revision beside it, so a GET is one indexed read and no JSON work; the
 * fold state is read back from the body.
 *
 * Versions live side by side as tables `profiles_v<N>`, each with its row in
 * `checkpoints`; `meta` names the active one and the one being rebuilt. The
 * active version is looked up in each write, so a switch made by another
 * process (the CLI's rebuild) takes effect at once, and reads follow within
 * ACTIVE_VERSION_TTL_MS (see findProfileJson).
 *
 * `synchronous = NORMAL` is enough here: the documents and the checkpoint
 * commit together, so after a power loss both roll back to the same point
 * and the projector re-applies from there.
 */
export class SqliteReadModel implements ReadModel {
  private readonly db: Database.Database;
  private readonly byVersion = new Map<number, VersionStatements>();
  private readonly meta: {
    get: Database.Statement<[string], { value: number }>;
    set: Database.Statement<[string, number]>;
    remove: Database.Statement<[string]>;
    tables: Database.Statement<[], { name: string }>;
    checkpoint: Database.Statement<[number], { commit_position: bigint; prepare_position: bigint }>;
    saveCheckpoint: Database.Statement<[number, bigint, bigint]>;
    dropCheckpoint: Database.Statement<[number]>;
  };
  private readonly applyToVersion: Database.Transaction<(version: number, facts: readonly VisitorFact[], checkpoint: Position) => void>;
  private readonly saveToVersion: Database.Transaction<(version: number, profiles: readonly Profile[], checkpoint: Position | undefined) => void>;

  private readonly onApplyStep?: (step: ApplyStep) => void;
  private readonly checkpointer?: WalCheckpointer;
  /** The active version as last looked up, and when. */
  private activeSeen?: { readonly version: number; readonly at: number };

  constructor(file: string, options: SqliteReadModelOptions = {}) {
    this.onApplyStep = options.onApplyStep;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (
        key   TEXT    PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS checkpoints (
        version          INTEGER PRIMARY KEY,
        commit_position  INTEGER NOT NULL,
        prepare_position INTEGER NOT NULL
      );
      INSERT OR IGNORE INTO meta (key, value) VALUES ('active', 1);
    `);
    this.meta = {
      get: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      set: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      remove: this.db.prepare('DELETE FROM meta WHERE key = ?'),
      tables: this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'profiles_v%'"),
      checkpoint: this.db
        .prepare<[number], { commit_position: bigint; prepare_position: bigint }>(
          'SELECT commit_position, prepare_position FROM checkpoints WHERE version = ?',
        )
        .safeIntegers(true),
      saveCheckpoint: this.db.prepare(
        `INSERT INTO checkpoints (version, commit_position, prepare_position) VALUES (?, ?, ?)
         ON CONFLICT (version) DO UPDATE SET commit_position = excluded.commit_position, prepare_position = excluded.prepare_position`,
      ),
      dropCheckpoint: this.db.prepare('DELETE FROM checkpoints WHERE version = ?'),
    };
    this.applyToVersion = this.db.transaction((version: number, facts: readonly VisitorFact[], checkpoint: Position) =>
      this.applyInTransaction(version, facts, checkpoint),
    );
    this.saveToVersion = this.db.transaction((version: number, profiles: readonly Profile[], checkpoint: Position | undefined) => {
      const { save } = this.statements(version);
      for (const profile of profiles) save.run(...row(profile));
      if (checkpoint !== undefined) this.advanceCheckpoint(version, checkpoint);
    });
    this.createVersion(this.active());
    // Last: nothing above can fail and leave the thread behind.
    if (options.backgroundCheckpoints) this.checkpointer = new WalCheckpointer(file);
  }

  async getCheckpoint(): Promise<Position | undefined> {
    return this.checkpointOf(this.active());
  }

  async apply(facts: readonly VisitorFact[], checkpoint: Position): Promise<void> {
    // IMMEDIATE: take the write lock first, so two processes never deadlock upgrading a read.
    this.applyToVersion.immediate(this.active(), facts, checkpoint);
  }

  async loadProfiles(keys: readonly VisitorKey[]): Promise<Array<Profile | undefined>> {
    return this.load(this.active(), keys);
  }

  async saveProfiles(profiles: readonly Profile[], checkpoint?: Position): Promise<void> {
    this.saveToVersion.immediate(this.active(), profiles, checkpoint);
  }

  /**
   * Reads the active version as last seen, if seen within
   * ACTIVE_VERSION_TTL_MS: looking it up cost as much as the read itself.
   * Every other operation looks it up afresh and refreshes what reads use,
   * so by the time the projector publishes a page (it checks the active
   * version first) or a consistency token is honoured (the checkpoint is read
   * from the active version), reads are on that version too. Without a token
   * a read may stay on the version a rebuild just replaced for that long; that
   * version is kept until the next rebuild begins, and if it is already gone
   * the read looks again.
   */
  async findProfileJson(environment: string, userId: string): Promise<string | undefined> {
    const seen = this.activeSeen;
    if (seen !== undefined && performance.now() - seen.at < ACTIVE_VERSION_TTL_MS) {
      const body = this.body(seen.version, environment, userId);
      if (body !== undefined || this.byVersion.has(seen.version)) return body;
    }
    return this.body(this.active(), environment, userId);
  }

  async versions(): Promise<ReadModelVersions> {
    const building = this.meta.get.get('building')?.value;
    return building === undefined ? { active: this.active() } : { active: this.active(), building };
  }

  async beginRebuild(): Promise<number> {
    return this.db
      .transaction(() => {
        const building = this.meta.get.get('building')?.value;
        if (building !== undefined) return building;
        const active = this.active();
        // The version replaced by the last rebuild is no longer read by anyone: make room.
        for (const version of this.storedVersions()) if (version !== active) this.dropVersion(version);
        const next = active + 1;
        this.createVersion(next);
        this.meta.set.run('building', next);
        return next;
      })
      .immediate();
  }

  version(version: number): ReadModelView {
    table(version);
    return {
      getCheckpoint: async () => this.checkpointOf(version),
      apply: async (facts, checkpoint) => this.applyToVersion.immediate(version, facts, checkpoint),
      loadProfiles: async (keys) => this.load(version, keys),
      saveProfiles: async (profiles, checkpoint) => this.saveToVersion.immediate(version, profiles, checkpoint),
      findProfileJson: async (environment, userId) => this.body(version, environment, userId),
    };
  }

  async activate(version: number): Promise<boolean> {
    return this.db
      .transaction(() => {
        const active = this.active();
        if (version === active) return true;
        if (!this.storedVersions().includes(version)) throw new Error(`read model version ${version} does not exist`);
        const built = this.checkpointOf(version);
        const current = this.checkpointOf(active);
        if (current !== undefined && (built === undefined || comparePositions(built, current) < 0)) return false;
        this.meta.set.run('active', version);
        if (this.meta.get.get('building')?.value === version) this.meta.remove.run('building');
        return true;
      })
      .immediate();
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }

  private applyInTransaction(version: number, facts: readonly VisitorFact[], checkpoint: Position): void {
    const { load, save } = this.statements(version);
    // Each visitor is loaded once per apply and its facts folded, in log order, into the state just
    // revived: a private copy, so the fold writes it in place.
    const touched = new Map<string, { draft: ProfileDraft | undefined; revision: number }>();
    for (const fact of facts) {
      const key = `${fact.environment}\u0000${fact.userId}`;
      let entry = touched.get(key);
      if (!entry) {
        const stored = load.get(fact.environment, fact.userId);
        const draft = stored ? revive(stored, fact) : undefined;
        entry = { draft, revision: draft?.revision ?? -1 };
        touched.set(key, entry);
      }
      entry.draft = foldInto(entry.draft, fact);
    }
    for (const { draft: after, revision } of touched.values()) {
      if (!after || after.revision === revision) continue;
      save.run(...row(after));
      this.onApplyStep?.('profile-saved');
    }
    this.onApplyStep?.('profiles-saved');
    this.advanceCheckpoint(version, checkpoint);
    this.onApplyStep?.('checkpoint-saved');
  }

  /** Never backwards: two projectors (two processes on one data directory) may commit in either order. */
  private advanceCheckpoint(version: number, checkpoint: Position): void {
    const current = this.checkpointOf(version);
    if (current === undefined || comparePositions(checkpoint, current) > 0) {
      this.meta.saveCheckpoint.run(version, checkpoint.commit, checkpoint.prepare);
    }
  }

  private load(version: number, keys: readonly VisitorKey[]): Array<Profile | undefined> {
    const { load } = this.statements(version);
    return keys.map((key) => {
      const found = load.get(key.environment, key.userId);
      return found ? revive(found, key) : undefined;
    });
  }

  private body(version: number, environment: string, userId: string): string | undefined {
    try {
      return this.statements(version).body.get(environment, userId)?.body;
    } catch (error) {
      // A version dropped (here or by another process) holds no profile.
      // Matched by message: errors of the native module need not be instances of this realm's Error.
      if (/^no such table/.test(String((error as { message?: unknown })?.message))) {
        this.byVersion.delete(version);
        return undefined;
      }
      throw error;
    }
  }

  private active(): number {
    const version = this.meta.get.get('active')!.value;
    this.activeSeen = { version, at: performance.now() };
    return version;
  }

  private checkpointOf(version: number): Position | undefined {
    const row = this.meta.checkpoint.get(version);
    return row ? position(row.commit_position, row.prepare_position) : undefined;
  }

  private storedVersions(): number[] {
    return this.meta.tables.all().map((row) => Number(row.name.slice('profiles_v'.length)));
  }

  /**
   * A rowid table, not WITHOUT ROWID: a profile row (a body of a few KB) is
   * far past the 1 KB a WITHOUT ROWID leaf keeps inline, so every read
   * there followed a chain of overflow pages. In a rowid table the row sits
   * whole in its leaf, and a body lookup over 100 000 profiles costs a third
   * of the CPU. Versions made before keep their layout until the next rebuild.
   */
  private createVersion(version: number): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${table(version)} (
        environment TEXT    NOT NULL,
        user_id     TEXT    NOT NULL,
        revision    INTEGER NOT NULL,
        state       TEXT    NOT NULL, -- '' since bodies carry the state; rows written before keep theirs
        body        TEXT    NOT NULL,
        PRIMARY KEY (environment, user_id)
      );
    `);
  }

  private dropVersion(version: number): void {
    this.byVersion.delete(version);
    this.db.exec(`DROP TABLE IF EXISTS ${table(version)}`);
    this.meta.dropCheckpoint.run(version);
  }

  /** Statements of one version, prepared on first use (its table may have been made by another process). */
  private statements(version: number): VersionStatements {
    const cached = this.byVersion.get(version);
    if (cached) return cached;
    const name = table(version);
    const statements: VersionStatements = {
      load: this.db.prepare(`SELECT revision, state, body FROM ${name} WHERE environment = ? AND user_id = ?`),
      save: this.db.prepare(
        `INSERT INTO ${name} (environment, user_id, revision, state, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (environment, user_id) DO UPDATE SET
           revision = excluded.revision, state = excluded.state, body = excluded.body
         WHERE excluded.revision > ${name}.revision`,
      ),
      body: this.db.prepare(`SELECT body FROM ${name} WHERE environment = ? AND user_id = ?`),
    };
    this.byVersion.set(version, statements);
    return statements;
  }
}

interface StoredProfile {
  revision: number;
  state: string;
  body: string;
}

/**
 * A profile as the columns of its row: key, revision, an empty `state`, and
 * the GET body ready to send. The fold state is read back from the body
 * (`reviveFromBody`): writing it a second time cost a serialization per
 * visitor and doubled the row. Rows written before keep their state, which
 * is read when present.
 */
function row(profile: Profile): [string, string, number, string, string] {
  return [profile.environment, profile.userId, profile.revision, '', JSON.stringify(toView(profile))];
}

function revive(stored: StoredProfile, key: VisitorKey): ProfileDraft {
  return stored.state === '' ? reviveFromBody(stored.body, key, stored.revision) : reviveProfile(stored.state);
}

/** How long reads keep using the active version last looked up (see findProfileJson). */
export const ACTIVE_VERSION_TTL_MS = 100;

function table(version: number): string {
  if (!Number.isSafeInteger(version) || version < 1) throw new RangeError(`invalid read model version ${version}`);
  return `profiles_v${version}`;
}
