'use strict';
/**
 * Rebuilds a fresh read model from the event store of DIR with the product's
 * `rebuildInParallel` (one share per core, at most 4, as `projections rebuild`
 * does; REPLAY_WORKERS=N to choose), and prints one JSON line: events per second, the peak
 * resident set, and the resident set after each tenth of the log, to show
 * whether memory stays flat as the number of events grows.
 *
 *   replay.js DIR TOTAL_EVENTS
 */
const { rmSync } = require('node:fs');
const { availableParallelism } = require('node:os');
const { join } = require('node:path');
const { ROOT } = require('./lib');

const dist = (lib) => require(join(process.env.BENCH_DIST || join(ROOT, 'dist'), 'libs', lib, 'src'));
const { SqliteEventStore } = dist('event-store');
const { SqliteReadModel } = dist('read-model');
const { rebuildInParallel } = dist('users');

/** As the CLI does: one worker per core, at most 4 (REPLAY_WORKERS=1 folds on the main thread alone). */
const WORKERS = Number(process.env.REPLAY_WORKERS || Math.min(availableParallelism(), 4));

const [dir, totalText] = process.argv.slice(2);
const total = Number(totalText);

async function main() {
  const file = join(dir, 'rebuilt-read-model.sqlite');
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const store = new SqliteEventStore(join(dir, 'events.sqlite'));
  const readModel = new SqliteReadModel(file);
  const mb = (bytes) => bytes / 1024 / 1024;
  const samples = [];
  let nextSample = total / 10;
  const startRss = mb(process.memoryUsage.rss());
  const started = process.hrtime.bigint();
  const result = await rebuildInParallel(store, readModel, {
    workers: WORKERS,
    stores: { module: join(__dirname, 'rebuild-stores.js'), args: { dir, readModelFile: file } },
    onProgress: ({ events }) => {
      if (events >= nextSample) {
        samples.push({ events, rssMb: mb(process.memoryUsage.rss()) });
        nextSample += total / 10;
      }
    },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await readModel.close();
  await store.close();
  process.stdout.write(
    JSON.stringify({
      events: result.events,
      facts: result.facts,
      seconds,
      eventsPerSecond: result.events / seconds,
      workers: WORKERS,
      startRssMb: startRss,
      // ru_maxrss is in kilobytes on Linux.
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      samples,
    }) + '\n',
  );
}

main().catch((error) => {
  process.stderr.write(`replay: ${error.stack ?? error}\n`);
  process.exit(1);
});
