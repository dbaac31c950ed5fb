'use strict';
/**
 * How `replay.js`'s rebuild workers open its stores (`RebuildStoresSource`):
 * the event store of the data directory and the fresh read-model file beside it.
 */
const { join } = require('node:path');

const dist = (lib) => require(join(process.env.BENCH_DIST || join(__dirname, '..', '..', 'dist'), 'libs', lib, 'src'));

async function openRebuildStores({ dir, readModelFile }) {
  const { SqliteEventStore } = dist('event-store');
  const { SqliteReadModel } = dist('read-model');
  const events = new SqliteEventStore(join(dir, 'events.sqlite'));
  const target = new SqliteReadModel(readModelFile);
  return {
    events,
    target,
    close: async () => {
      await target.close();
      await events.close();
    },
  };
}

module.exports = { openRebuildStores };
