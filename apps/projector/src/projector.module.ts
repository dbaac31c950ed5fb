import { BeforeApplicationShutdown, DynamicModule, Module, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig, StorageModule } from '@visitorbase/platform';
import { Projector } from '@visitorbase/users';

/**
 * The projection on its own, without HTTP: the production deployment runs it
 * as one process beside any number of API replicas started with PROJECTOR=false.
 */
@Module({})
export class ProjectorModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(private readonly projector: Projector) {}

  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ProjectorModule,
      imports: [StorageModule.forRoot(config)],
      providers: [Projector],
    };
  }

  onApplicationBootstrap(): void {
    this.projector.start();
  }

  /** Stopped before the stores close, so no page is left half applied. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.projector.stop();
  }
}
