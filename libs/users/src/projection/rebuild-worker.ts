/**
 * One share of a parallel rebuild (`rebuildInParallel`), in a worker
 * thread: opens the stores as told, folds its share with `rebuildReadModel`,
 * reports progress, closes the stores, then says how it went.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Logger } from '@nestjs/common';
import type { OpenedRebuildStores, WorkerInput, WorkerMessage } from './parallel-rebuild';
import { rebuildReadModel } from './rebuild';
import { ToParentLogger } from './thread-logging';

const port = parentPort!;
const input = workerData as WorkerInput;
const abort = new AbortController();
port.on('message', (message: unknown) => {
  if (message === 'abort') abort.abort();
});
const say = (message: WorkerMessage) => port.postMessage(message);

async function main(): Promise<void> {
  // Whatever opening the stores logs is written by the parent, where its process writes logs.
  Logger.overrideLogger(new ToParentLogger(say));
  const { openRebuildStores } = require(input.stores.module) as { openRebuildStores(args: unknown): Promise<OpenedRebuildStores> };
  const stores = await openRebuildStores(input.stores.args);
  try {
    const result = await rebuildReadModel(stores.events, stores.target, {
      ...input.options,
      partition: input.partition,
      upTo: input.upTo,
      signal: abort.signal,
      onProgress: (progress) => say({ type: 'progress', progress }),
    });
    await stores.close();
    say({ type: 'done', result });
  } catch (error) {
    await stores.close().catch(() => undefined);
    throw error;
  }
}

main()
  .catch((error: unknown) => say({ type: 'failed', message: (error as Error)?.message ?? String(error), stack: (error as Error)?.stack }))
  // Nothing more to say or hear: the thread ends once its port is closed.
  .finally(() => port.close());
