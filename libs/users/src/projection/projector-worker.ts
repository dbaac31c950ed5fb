/**
 * The projector thread (`ProjectorThread`): opens the stores from the
 * configuration, runs the `Projector` until told to stop, and sends its
 * position and its log lines to the thread that started it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Logger } from '@nestjs/common';
import { SqliteEventStore } from '@visitorbase/event-store';
import { AppConfig, openEventStore, openReadModel } from '@visitorbase/platform';
import { Projector } from './projector';
import type { ProjectorThreadCommand, ProjectorThreadInput, ProjectorThreadMessage } from './projector-thread';
import { ToParentLogger } from './thread-logging';

const port = parentPort!;
const { config } = workerData as ProjectorThreadInput;
const say = (message: ProjectorThreadMessage) => port.postMessage(message);

async function main(): Promise<void> {
  Logger.overrideLogger(new ToParentLogger(say));
  const events = await openEventStore(config as AppConfig);
  const readModel = await openReadModel(config as AppConfig).catch(async (error: unknown) => {
    await events.close();
    throw error;
  });
  const projector = new Projector(events, readModel);
  projector.onPosition((position, published) => say({ type: 'position', position, published }));
  let stopped: Promise<void> | undefined;
  port.on('message', (command: ProjectorThreadCommand) => {
    if (command === 'appended' && events instanceof SqliteEventStore) events.notifyAppended();
    if (command === 'stop') {
      stopped ??= (async () => {
        await projector.stop();
        await readModel.close();
        await events.close();
        // Nothing more to say: the thread ends, which is what its parent waits for.
        port.close();
      })();
    }
  });
  projector.start();
}

main().catch((error: unknown) => {
  say({ type: 'log', level: 'error', message: `the projector thread could not start: ${(error as Error)?.message ?? String(error)}`, context: 'Projector' });
  process.exit(1);
});
