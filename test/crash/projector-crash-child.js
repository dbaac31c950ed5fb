'use strict';
/**
 * Runs the projector over a data directory and kills its own process with
 * SIGKILL at one step of one apply, with the read model's transaction open:
 *
 *   node test/crash/projector-crash-child.js <dataDir> <step> <occurrence>
 *
 * Exits 3 if the step is never reached.
 */
const { join } = require('node:path');

const DIST = join(__dirname, '..', '..', 'dist', 'libs');
const { SqliteEventStore } = require(join(DIST, 'event-store', 'src'));
const { SqliteReadModel } = require(join(DIST, 'read-model', 'src'));
const { Projector } = require(join(DIST, 'users', 'src', 'projection', 'projector'));

const [dataDir, step, occurrence] = process.argv.slice(2);
let seen = 0;
const store = new SqliteEventStore(join(dataDir, 'events.sqlite'));
const readModel = new SqliteReadModel(join(dataDir, 'read-model.sqlite'), {
  onApplyStep: (at) => {
    if (at === step && ++seen === Number(occurrence)) process.kill(process.pid, 'SIGKILL');
  },
});
new Projector(store, readModel, { initialBackoffMs: 10 }).start();
setTimeout(() => process.exit(3), 20_000).unref();
setInterval(() => undefined, 1000);
