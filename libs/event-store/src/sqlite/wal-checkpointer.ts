import { Worker } from 'node:worker_threads';

/** How often the background connection copies the WAL back into the database file. */
export const CHECKPOINT_INTERVAL_MS = 100;
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
 * Moves the bulk of SQLite's WAL checkpoints off the event loop. A checkpoint
 * copies the pages written since the last one into the database file and
 * syncs it; run by the connection that commits (SQLite's default, once the
 * WAL holds 1 000 pages), all of it stalled every request in flight. Here a
 * worker thread with a connection of its own copies the WAL every
 * CHECKPOINT_INTERVAL_MS. The committing connection keeps SQLite's default:
 * only it can start the WAL over from the beginning (it must begin a write
 * with every frame already copied, which under steady writes happens only
 * right after its own checkpoint), and by then the thread has copied nearly
 * everything, so its own checkpoints copy the last few frames. Left to the
 * thread alone, the WAL grew without end; with the committing connection's
 * threshold raised, it grew to that threshold and its rare checkpoints then
 * copied all of it on the event loop at once.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped = false;
  private readonly exited: Promise<void>;

  constructor(file: string, intervalMs = CHECKPOINT_INTERVAL_MS) {
    this.worker = new Worker(PROGRAM, {
      eval: true,
      workerData: { driver: require.resolve('better-sqlite3'), file, intervalMs },
    });
    // Never what keeps a process alive.
    this.worker.unref();
    this.exited = new Promise((resolve) => {
      // Should the thread end early, the committing connection's own checkpoints carry on alone.
      this.worker.once('exit', () => resolve());
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
      // Held by the process until it ends: unreferenced, a thread with nothing else left to wait
      // for would let the process exit under its last checkpoint, and the close that awaits it
      // (and every step of a shutdown after it) would never run.
      this.worker.ref();
      this.worker.postMessage('stop');
      const timer = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}
