import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { EVENT_STORE, EventStore } from '@visitorbase/event-store';
import { METRICS_REGISTRY } from '@visitorbase/platform/observability/metrics';
import { withTimeout } from '@visitorbase/platform/process/timeout';
import { READ_MODEL, ReadModel } from '@visitorbase/read-model';
import { ProjectionStatus, projectionStatus } from './status';

/**
 * Lag is counted up to this many events per scrape, so a scrape stays cheap
 * however far behind: counting them reads them, on the event loop that
 * serves requests (a scrape about 82 000 events behind took 0.26 to 0.40 s
 * when the limit was 100 000).
 */
const LAG_COUNT_LIMIT = 10_000;

/** Past this, a scrape answers without the projection's figures rather than wait on a store. */
const STATUS_TIMEOUT_MS = 2_000;

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
    // The figures of one status read serve all the gauges of a scrape. A store that fails or does not
    // answer in time leaves them unknown (NaN) and status_up at 0, and the rest of the scrape (requests,
    // the process) is answered all the same; a read still under way is not started again.
    let reading: { promise: Promise<ProjectionStatus>; since: number } | undefined;
    let pending: Promise<ProjectionStatus | undefined> | undefined;
    const read = async (): Promise<ProjectionStatus | undefined> => {
      // A read that has already run past a scrape's wait is given up for a new one: a read that
      // never ends would otherwise keep every later scrape down after the store came back.
      if (reading === undefined || Date.now() - reading.since > STATUS_TIMEOUT_MS) {
        const current = {
          promise: projectionStatus(store, readModel, { countLimit: LAG_COUNT_LIMIT }).finally(() => {
            if (reading === current) reading = undefined;
          }),
          since: Date.now(),
        };
        reading = current;
      }
      try {
        return await withTimeout(reading.promise, STATUS_TIMEOUT_MS);
      } catch {
        return undefined;
      }
    };
    const status = () => (pending ??= read().finally(() => setImmediate(() => (pending = undefined))));
    new Gauge({
      name: 'visitorbase_projection_status_up',
      help: 'Whether the figures of the projection (checkpoint, head, lag, version) could be read for this scrape',
      registers: [registry],
      async collect() {
        this.set((await status()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'visitorbase_projection_checkpoint',
      help: 'Commit position of the last event applied to the active read model version',
      registers: [registry],
      async collect() {
        const s = await status();
        this.set(!s ? NaN : s.checkpoint ? Number(s.checkpoint.commit) : -1);
      },
    });
    new Gauge({
      name: 'visitorbase_event_store_head',
      help: 'Commit position of the last event in the log',
      registers: [registry],
      async collect() {
        const s = await status();
        this.set(!s ? NaN : s.head ? Number(s.head.commit) : -1);
      },
    });
    new Gauge({
      name: 'visitorbase_projection_lag_events',
      help: `Visitor events in the log not yet applied to the read model (counted up to ${LAG_COUNT_LIMIT})`,
      registers: [registry],
      async collect() {
        this.set((await status())?.lagEvents ?? NaN);
      },
    });
    new Gauge({
      name: 'visitorbase_projection_lag_milliseconds',
      help: 'How long the oldest event not yet applied has waited; 0 when caught up',
      registers: [registry],
      async collect() {
        this.set((await status())?.lagMs ?? NaN);
      },
    });
    new Gauge({
      name: 'visitorbase_read_model_version',
      help: 'Active read model version',
      registers: [registry],
      async collect() {
        this.set((await status())?.versions.active ?? NaN);
      },
    });
  }
}
