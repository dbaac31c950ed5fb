import { EventStoreDbEventStore } from '@visitorbase/event-store/eventstoredb';
import { eventStoreContract } from './event-store.contract';

/**
 * The event store contract against a real EventStoreDB, whenever
 * EVENTSTORE_URL names one (e.g. esdb://localhost:2113?tls=false, as
 * `docker compose up eventstore` serves). Streams are named per test, so a
 * long-lived server can be used.
 */
const url = process.env.EVENTSTORE_URL;

if (url) {
  describe('EventStore contract: EventStoreDB', () => {
    eventStoreContract(() => EventStoreDbEventStore.connect(url));
  });
} else {
  const reason = 'EVENTSTORE_URL is not set: set it to an EventStoreDB server, e.g. esdb://localhost:2113?tls=false';
  process.stderr.write(`EventStore contract: EventStoreDB skipped (${reason})\n`);
  describe('EventStore contract: EventStoreDB', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}
