/**
 * How the workers of `projections rebuild` open the stores
 * (`RebuildStoresSource`): as the command does, from the same configuration,
 * with the read-model version being rebuilt as the target.
 */
import { AppConfig, openEventStore, openReadModel } from '@visitorbase/platform';
import type { OpenedRebuildStores } from '@visitorbase/users';

export interface RebuildStoresArgs {
  readonly config: AppConfig;
  readonly version: number;
}

export async function openRebuildStores({ config, version }: RebuildStoresArgs): Promise<OpenedRebuildStores> {
  const events = await openEventStore(config);
  try {
    const readModel = await openReadModel(config);
    return {
      events,
      target: readModel.version(version),
      close: async () => {
        await readModel.close();
        await events.close();
      },
    };
  } catch (error) {
    await events.close();
    throw error;
  }
}

/** This module, for `RebuildStoresSource.module`. */
export const REBUILD_STORES_MODULE = __filename;
