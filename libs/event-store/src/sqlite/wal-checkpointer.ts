import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How often the background connection copies the WAL back into the database file. */
export const CHECKPOINT_INTERVAL_MS = 200;
/**
 * While checkpoints run in the background, the main connection checkpoints by
 * itself only if the WAL grows this large anyway (about 40 MB of 4 KB pages):
 * a safety net should the background thread fall behind.
 */
const SAFETY_NET_PAGES = 10_000;
/** SQLite's own default, restored if the background thread stops. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;
/** How long `stop` waits for the last checkpoint before ending the thread regardless. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * The thread's whole program. It opens its own connection to the file and runs
 * a PASSIVE checkpoint every interval: one that never waits for, nor blocks,
 * readers or writers.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 10000');
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)');
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { checkpoint(); } finally { db.close(); parentPort.close(); }
});
`;

/**
 * Moves SQLite's WAL checkpoints off the event loop. A checkpoint copies the
 * pages written since the last one into the database file and syncs it; run
 * by the connection that commits (SQLite's default, every 1 000 pages), it
 * stalled every request in flight for as long as that took. Here a worker
 * thread with a connection of its own does it every CHECKPOINT_INTERVAL_MS,
 * and the main connection keeps a far larger automatic threshold as a safety
 * net, back to SQLite's default if the thread ever stops.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped = false;
  private readonly exited: Promise<void>;

  constructor(db: Database.Database, file: string, intervalMs = CHECKPOINT_INTERVAL_MS) {
    db.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
    this.worker = new Worker(PROGRAM, {
      eval: true,
      workerData: { driver: require.resolve('better-sqlite3'), file, intervalMs },
    });
    // Never what keeps a process alive.
    this.worker.unref();
    this.exited = new Promise((resolve) => {
      const fallBack = () => {
        if (!this.stopped && db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
        resolve();
      };
      this.worker.once('exit', fallBack);
      // An error ends the thread too ('exit' follows); listening keeps it from being thrown here.
      this.worker.once('error', () => undefined);
    });
  }

  /**
   * Runs a last checkpoint and ends the thread; a thread that does not end
   * within STOP_TIMEOUT_MS is terminated, so a shutdown never hangs on it.
   * Call before closing the main connection.
   */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.worker.postMessage('stop');
      const timer = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
      timer.unref();
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}
