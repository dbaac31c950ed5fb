'use strict';
/**
 * The data the benchmark sends and seeds, in one place so that the load
 * generator, the seeders and the reference server agree on its shape.
 */

const EVENT_NAMES = Array.from({ length: 20 }, (_, i) => `Event ${String(i).padStart(2, '0')}`);
const ATTRIBUTE_NAMES = Array.from({ length: 20 }, (_, i) => `attribute_${String(i).padStart(2, '0')}`);
const BASE_TIME = 1_700_000_000_000;

function userId(prefix, i) {
  return `${prefix}${String(i).padStart(6, '0')}`;
}

/** A small deterministic generator, so every run sends the same data. */
function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function attributeValue(j, i) {
  switch (j % 3) {
    case 0:
      return `value ${i % 97}`;
    case 1:
      return i % 1000;
    default:
      return i % 2 === 0;
  }
}

/** A POST /v2/users body: `eventCount` events and `attributeCount` attributes. */
function upsertBody(id, i, eventCount, attributeCount, rnd) {
  const attributes = {};
  for (let j = 0; j < attributeCount; j++) {
    const a = Math.floor(rnd() * ATTRIBUTE_NAMES.length);
    attributes[ATTRIBUTE_NAMES[(a + j) % ATTRIBUTE_NAMES.length]] = attributeValue(j, i);
  }
  const events = [];
  for (let j = 0; j < eventCount; j++) {
    events.push({ event: EVENT_NAMES[Math.floor(rnd() * EVENT_NAMES.length)], timestamp: BASE_TIME + i * 1000 + j });
  }
  return { userId: id, attributes, events };
}

/** The GET body of a visitor with 20 event names and 20 attributes, as the service shapes it. */
function fixedProfileJson() {
  const attributes = {};
  ATTRIBUTE_NAMES.forEach((name, j) => {
    attributes[name] = attributeValue(j, 7);
  });
  return JSON.stringify({
    id: '2b0f3c1e-5d4a-5b6c-8d7e-9f0a1b2c3d4e',
    createdAt: BASE_TIME,
    attributes,
    events: EVENT_NAMES.map((event, j) => ({ event, count: 3 + j, createdAt: BASE_TIME + j, updatedAt: BASE_TIME + 1000 + j })),
  });
}

module.exports = { EVENT_NAMES, ATTRIBUTE_NAMES, BASE_TIME, userId, random, attributeValue, upsertBody, fixedProfileJson };
