import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { EVENT_STORE, EventStore } from '@visitorbase/event-store';
import { APP_CONFIG, AppConfig } from '@visitorbase/platform';
import { withTimeout } from '@visitorbase/platform/process/timeout';
import { READ_MODEL, ReadModel } from '@visitorbase/read-model';
import { AHEAD_OF_LOG_REMEDY, ProjectionRunner, projectionStatus } from '@visitorbase/users';

/** A store that does not answer within this time is taken as unreachable. */
const STORE_TIMEOUT_MS = 2_000;
/** The projection is stalled when its oldest unapplied event has waited longer than this. */
const STALLED_AFTER_MS = 30_000;

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODEL) private readonly readModel: ReadModel,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly projector: ProjectionRunner,
  ) {}

  /** The process is up and answering: it checks nothing else, so it never answers 503, and its docs say so. */
  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOkResponse({
    description: 'The process is up and answering',
    schema: { type: 'object', example: { status: 'ok', info: {}, error: {}, details: {} } },
  })
  live() {
    return this.health.check([]);
  }

  /** Worth sending traffic to: both stores answer, and the projection is running and keeping up. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.reachable('eventStore', () => this.store.headPosition()),
      () => this.reachable('readModel', () => this.readModel.getCheckpoint()),
      () => this.projection(),
    ]);
  }

  private async reachable(key: string, probe: () => Promise<unknown>): Promise<HealthIndicatorResult> {
    const check = this.indicators.check(key);
    try {
      await withTimeout(probe(), STORE_TIMEOUT_MS);
      return check.up();
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }

  private async projection(): Promise<HealthIndicatorResult> {
    const check = this.indicators.check('projection');
    try {
      const status = await withTimeout(projectionStatus(this.store, this.readModel, { countLimit: 10_000 }), STORE_TIMEOUT_MS);
      const details = { lagEvents: status.lagEvents, lagMs: status.lagMs, version: status.versions.active };
      if (this.config.projectorEnabled && !this.projector.running) return check.down({ ...details, message: 'the projector is not running' });
      // New writes land before the checkpoint, where the projection never looks: none would ever be read.
      if (status.aheadOfLog) return check.down({ ...details, message: `the checkpoint is past the head of the log; ${AHEAD_OF_LOG_REMEDY}` });
      if (status.lagMs > STALLED_AFTER_MS) return check.down({ ...details, message: `the oldest unapplied event has waited ${status.lagMs} ms` });
      return check.up(details);
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }
}
