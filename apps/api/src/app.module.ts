import { BeforeApplicationShutdown, DynamicModule, Inject, Module, OnApplicationBootstrap } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { APP_CONFIG, AppConfig, HttpErrorsFilter, StorageModule } from '@visitorbase/platform';
import { METRICS_REGISTRY, MetricsController, createRegistry } from '@visitorbase/platform/observability/metrics';
import { ProjectionRunner, UsersModule } from '@visitorbase/users';
import { HealthController } from './health.controller';

/** Starts this process's projector (on its own thread or the event loop) after boot, stops it before the stores close. */
@Module({})
export class AppModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly projector: ProjectionRunner,
  ) {}

  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      // The configuration is needed by the feature modules too.
      global: true,
      imports: [StorageModule.forRoot(config), UsersModule, TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: METRICS_REGISTRY, useFactory: createRegistry },
        { provide: APP_FILTER, useClass: HttpErrorsFilter },
      ],
      exports: [APP_CONFIG, METRICS_REGISTRY],
    };
  }

  onApplicationBootstrap(): void {
    if (this.config.projectorEnabled) this.projector.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.projector.stop();
  }
}
