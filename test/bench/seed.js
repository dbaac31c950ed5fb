'use strict';
/**
 * Seeds a data directory through the storage adapters directly, far faster
 * than over HTTP:
 *
 *   seed.js profiles DIR COUNT     COUNT projected visitors of 20 attributes and 20 event names, in the read model
 *   seed.js events DIR EVENTS VISITORS
 *                                  EVENTS events in the event store, as requests of 1 UserUpserted and
 *                                  3 EventTracked for visitors picked at random among VISITORS
 *   seed.js growth DIR SMALL LARGE two visitors with SMALL and LARGE tracked events of the same 10 names,
 *                                  appended and projected
 *
 * Prints one JSON line: what was written and how long it took.
 */
const { randomUUID } = require('node:crypto');
const { mkdirSync } = require('node:fs');
const { join } = require('node:path');
const { ROOT } = require('./lib');
const { ATTRIBUTE_NAMES, BASE_TIME, EVENT_NAMES, attributeValue, random, userId } = require('./shapes');

const dist = (lib) => require(join(process.env.BENCH_DIST || join(ROOT, 'dist'), 'libs', lib, 'src'));
const { SqliteEventStore, newEventId, position } = dist('event-store');
// The ids the service makes; SEED_IDS=v4 seeds random ones instead, for comparison.
const newId = process.env.SEED_IDS === 'v4' ? randomUUID : newEventId;
const { SqliteReadModel } = dist('read-model');
const { EVENT_TRACKED, USER_UPSERTED, rebuildReadModel, visitorStream } = dist('users');

const ENVIRONMENT = 'development';
const GROWTH_EVENT_NAMES = 10;
const [mode, dir, ...args] = process.argv.slice(2);

async function seedProfiles(count) {
  const readModel = new SqliteReadModel(join(dir, 'read-model.sqlite'));
  const batch = 1000;
  for (let start = 0; start < count; start += batch) {
    const facts = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      const id = userId('r', i);
      const attributes = {};
      ATTRIBUTE_NAMES.forEach((name, j) => (attributes[name] = attributeValue(j, i)));
      let revision = 0;
      facts.push({ environment: ENVIRONMENT, userId: id, revision: revision++, type: USER_UPSERTED, data: { userId: id, receivedAt: BASE_TIME + i, attributes } });
      for (let j = 0; j < EVENT_NAMES.length; j++) {
        facts.push({ environment: ENVIRONMENT, userId: id, revision: revision++, type: EVENT_TRACKED, data: { userId: id, event: EVENT_NAMES[j], timestamp: BASE_TIME + i + j } });
      }
    }
    // The event store of this directory stays empty: a checkpoint at 0 lets the projector start from its beginning.
    await readModel.apply(facts, position(0n));
  }
  await readModel.close();
  return { visitors: count };
}

function requestEvents(id, i, rnd, trackedCount) {
  const metadata = { environment: ENVIRONMENT };
  const attributes = {};
  for (let j = 0; j < 3; j++) attributes[ATTRIBUTE_NAMES[Math.floor(rnd() * ATTRIBUTE_NAMES.length)]] = attributeValue(j, i);
  const events = [{ id: newId(), type: USER_UPSERTED, data: { userId: id, receivedAt: BASE_TIME + i, attributes }, metadata }];
  for (let j = 0; j < trackedCount; j++) {
    const event = EVENT_NAMES[Math.floor(rnd() * EVENT_NAMES.length)];
    events.push({ id: newId(), type: EVENT_TRACKED, data: { userId: id, event, timestamp: BASE_TIME + i + j }, metadata });
  }
  return events;
}

async function seedEvents(total, visitors) {
  const store = new SqliteEventStore(join(dir, 'events.sqlite'));
  const rnd = random(7);
  const perRequest = 4;
  // Appends made together are committed together, as concurrent requests are.
  const concurrent = 2000;
  let written = 0;
  let i = 0;
  while (written < total) {
    const appends = [];
    for (let k = 0; k < concurrent && written < total; k++, i++) {
      const id = userId('p', Math.floor(rnd() * visitors));
      const events = requestEvents(id, i, rnd, Math.min(perRequest, total - written) - 1);
      written += events.length;
      appends.push(store.append(visitorStream({ environment: ENVIRONMENT, userId: id }), events, 'any'));
    }
    await Promise.all(appends);
  }
  await store.close();
  return { events: written, visitors };
}

async function seedGrowth(small, large) {
  const store = new SqliteEventStore(join(dir, 'events.sqlite'));
  const metadata = { environment: ENVIRONMENT };
  for (const [id, count] of [[userId('g', small), small], [userId('g', large), large]]) {
    const stream = visitorStream({ environment: ENVIRONMENT, userId: id });
    const attributes = {};
    ATTRIBUTE_NAMES.forEach((name, j) => (attributes[name] = attributeValue(j, count)));
    await store.append(stream, [{ id: newId(), type: USER_UPSERTED, data: { userId: id, receivedAt: BASE_TIME, attributes }, metadata }], 'any');
    for (let done = 0; done < count; ) {
      const events = [];
      for (; events.length < 1000 && done < count; done++) {
        // Both visitors cycle over the same 10 names, so their bodies are the same size and only the history differs.
        const event = EVENT_NAMES[done % GROWTH_EVENT_NAMES];
        events.push({ id: newId(), type: EVENT_TRACKED, data: { userId: id, event, timestamp: BASE_TIME + done }, metadata });
      }
      await store.append(stream, events, 'any');
    }
  }
  const readModel = new SqliteReadModel(join(dir, 'read-model.sqlite'));
  await rebuildReadModel(store, readModel);
  await readModel.close();
  await store.close();
  return { small: { userId: userId('g', small), events: small }, large: { userId: userId('g', large), events: large } };
}

async function main() {
  mkdirSync(dir, { recursive: true });
  const started = process.hrtime.bigint();
  let result;
  if (mode === 'profiles') result = await seedProfiles(Number(args[0]));
  else if (mode === 'events') result = await seedEvents(Number(args[0]), Number(args[1]));
  else if (mode === 'growth') result = await seedGrowth(Number(args[0]), Number(args[1]));
  else throw new Error(`unknown seed mode ${mode}`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(JSON.stringify({ ...result, seconds }) + '\n');
}

main().catch((error) => {
  process.stderr.write(`seed: ${error.stack ?? error}\n`);
  process.exit(1);
});
