import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { EVENT_STORE, EventStore } from '@visitorbase/event-store';
import { METRICS_REGISTRY } from '@visitorbase/platform/observability/metrics';
import { READ_MODEL, ReadModel } from '@visitorbase/read-model';
import { projectionStatus } from './status';

/** Lag is counted up to this many events per scrape, so a scrape stays cheap however far behind. */
const LAG_COUNT_LIMIT = 100_000;

/** What the users module reports: events appended, and where the projection stands, read at scrape time. */
@Injectable()
export class UsersMetrics {
  readonly eventsAppended: Counter<'type'>;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(READ_MODEL) readModel: ReadModel,
  ) {
    this.eventsAppended = new Counter({
      name: 'visitorbase_events_appended_total',
      help: 'Events appended to the event store by this process, by type; a retry the store recognised is not counted again',
      labelNames: ['type'] as const,
      registers: [registry],
    });
    let pending: ReturnType<typeof projectionStatus> | undefined;
    // One status read serves all the gauges of a scrape.
    const status = () => (pending ??= projectionStatus(store, readModel, { countLimit: LAG_COUNT_LIMIT }).finally(() => setImmediate(() => (pending = undefined))));
    new Gauge({
      name: 'visitorbase_projection_checkpoint',
      help: 'Commit position of the last event applied to the active read model version',
      registers: [registry],
      async collect() {
        const s = await status();
        this.set(s.checkpoint ? Number(s.checkpoint.commit) : -1);
      },
    });
    new Gauge({
      name: 'visitorbase_event_store_head',
      help: 'Commit position of the last event in the log',
      registers: [registry],
      async collect() {
        const s = await status();
        this.set(s.head ? Number(s.head.commit) : -1);
      },
    });
    new Gauge({
      name: 'visitorbase_projection_lag_events',
      help: `Visitor events in the log not yet applied to the read model (counted up to ${LAG_COUNT_LIMIT})`,
      registers: [registry],
      async collect() {
        this.set((await status()).lagEvents);
      },
    });
    new Gauge({
      name: 'visitorbase_projection_lag_milliseconds',
      help: 'How long the oldest event not yet applied has waited; 0 when caught up',
      registers: [registry],
      async collect() {
        this.set((await status()).lagMs);
      },
    });
    new Gauge({
      name: 'visitorbase_read_model_version',
      help: 'Active read model version',
      registers: [registry],
      async collect() {
        this.set((await status()).versions.active);
      },
    });
  }
}
