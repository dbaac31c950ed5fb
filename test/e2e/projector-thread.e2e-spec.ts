import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Logger, LoggerService } from '@nestjs/common';
import { Position, comparePositions } from '@visitorbase/event-store';
import { loadConfig } from '@visitorbase/platform';
import { tempDataDir } from './support';

// The thread runs compiled JavaScript: the projector and the stores come from the build.
const DIST = join(__dirname, '../../dist');
const built = () => {
  const script = join(DIST, 'libs/users/src/projection/projector-worker.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" (npm test does it first)`);
  return {
    ...(require(join(DIST, 'libs/event-store/src')) as typeof import('@visitorbase/event-store')),
    ...(require(join(DIST, 'libs/read-model/src')) as typeof import('@visitorbase/read-model')),
    ...(require(join(DIST, 'libs/users/src')) as typeof import('@visitorbase/users')),
  };
};

const env = 'development';

class Captured implements LoggerService {
  readonly lines: string[] = [];
  log = (message: unknown, context?: string) => this.lines.push(`log ${context}: ${String(message)}`);
  error = (message: unknown, ...rest: unknown[]) => this.lines.push(`error ${String(rest[rest.length - 1])}: ${String(message)}`);
  warn = (message: unknown, context?: string) => this.lines.push(`warn ${context}: ${String(message)}`);
  debug = () => undefined;
  verbose = () => undefined;
}

describe('ProjectorThread: the projector on a worker thread', () => {
  const data = tempDataDir();
  const { SqliteEventStore, SqliteReadModel, ProjectorThread, ProjectionWatcher, EVENT_TRACKED, USER_UPSERTED, rebuildReadModel, visitorStream } = built();
  const store = new SqliteEventStore(join(data.dir, 'events.sqlite'));
  const readModel = new SqliteReadModel(join(data.dir, 'read-model.sqlite'));
  const config = loadConfig({ DATA_DIR: data.dir, LOG_LEVEL: 'silent' });
  const logs = new Captured();
  let thread: InstanceType<typeof ProjectorThread>;

  beforeAll(() => Logger.overrideLogger(logs));
  afterAll(async () => {
    await thread?.stop();
    await readModel.close();
    await store.close();
    Logger.overrideLogger(new Logger());
    data.remove();
  });

  const post = (userId: string, event: string) =>
    store.append(
      visitorStream({ environment: env, userId }),
      [
        { id: randomUUID(), type: USER_UPSERTED, data: { userId, receivedAt: 1_000, attributes: { plan: event } }, metadata: { environment: env } },
        { id: randomUUID(), type: EVENT_TRACKED, data: { userId, event, timestamp: 2_000 }, metadata: { environment: env } },
      ],
      'any',
    );

  /** Waits, through the thread's own wake-ups, until its published position reaches `target`. */
  async function reached(target: Position): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(thread.position !== undefined && comparePositions(thread.position, target) >= 0)) {
      if (Date.now() > deadline) throw new Error('the projector thread did not reach the position in time');
      const timeout = AbortSignal.timeout(1_000);
      await thread.nextApplied(timeout);
    }
  }

  it('applies what this process appends and publishes its position here', async () => {
    const first = await post('alice', 'signed-up');
    thread = new ProjectorThread({ config }, store, readModel);
    thread.start();
    await reached(first.position);
    expect(thread.running).toBe(true);
    const second = await post('alice', 'paid');
    await reached(second.position);
    const profile = JSON.parse((await readModel.findProfileJson(env, 'alice'))!);
    expect(profile.attributes).toEqual({ plan: 'paid' });
    expect(profile.events.map((e: { event: string; count: number }) => [e.event, e.count]).sort()).toEqual([
      ['paid', 1],
      ['signed-up', 1],
    ]);
    expect(await readModel.getCheckpoint()).toEqual(second.position);
    // Its log lines are written here, under its own context.
    expect(logs.lines).toContainEqual('log Projector: following the visitor streams into read model version 1 from the start of the log');
  });

  it('starts the thread again when it dies, and goes on from the checkpoint', async () => {
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    // Not running while no thread is up: health checks see it, and waits poll the checkpoint meanwhile.
    const deadline = Date.now() + 5_000;
    while (thread.running && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(thread.running).toBe(false);
    const third = await post('bob', 'signed-up');
    await reached(third.position);
    expect(thread.running).toBe(true);
    expect(JSON.parse((await readModel.findProfileJson(env, 'bob'))!).attributes).toEqual({ plan: 'signed-up' });
    expect(logs.lines.some((line) => /^error Projector: the projector thread exited \(code 1\); starting it again in \d+ ms$/.test(line))).toBe(true);
    expect(logs.lines.filter((line) => line.includes('following the visitor streams'))).toHaveLength(2);
  });

  it('never tells a waiting reader a write is there before the active version this process reads has it', async () => {
    const watcher = new ProjectionWatcher(readModel, thread);
    for (let round = 0; round < 3; round++) {
      const before = await post(`before-${round}`, 'x');
      expect(await watcher.waitFor(before.position, 20_000)).toBe(true);
      expect(await readModel.findProfileJson(env, `before-${round}`)).toBeDefined();
      // Another process (the CLI) rebuilds and switches versions while the thread projects.
      const cli = new SqliteReadModel(join(data.dir, 'read-model.sqlite'));
      const target = await cli.beginRebuild();
      await rebuildReadModel(store, cli.version(target));
      expect(await cli.activate(target)).toBe(true);
      await cli.close();
      const after = await post(`after-${round}`, 'y');
      expect(await watcher.waitFor(after.position, 20_000)).toBe(true);
      expect(await readModel.findProfileJson(env, `after-${round}`)).toBeDefined();
    }
  });

  it('refuses to start where there is no build to run, and says how to do without the thread', async () => {
    // The sources' own class: next to them there is no compiled worker script.
    const { ProjectorThread: FromSources } = await import('@visitorbase/users');
    const idle = new FromSources({ config }, store as never, readModel as never);
    expect(() => idle.start()).toThrow(/projector-worker\.js is missing: .*PROJECTOR_THREAD=false/);
    expect(idle.running).toBe(false);
  });

  it('stops: nothing appended afterwards is applied', async () => {
    await thread.stop();
    expect(thread.running).toBe(false);
    const before = await readModel.getCheckpoint();
    await post('carol', 'signed-up');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await readModel.getCheckpoint()).toEqual(before);
    expect(await readModel.findProfileJson(env, 'carol')).toBeUndefined();
  });

  it('starts again after a stop, from the checkpoint', async () => {
    thread.start();
    const later = await post('dave', 'signed-up');
    await reached(later.position);
    expect(await readModel.findProfileJson(env, 'carol')).toBeDefined();
    expect(await readModel.findProfileJson(env, 'dave')).toBeDefined();
  });

  it('starts again once a stop under way is done, when asked to start meanwhile', async () => {
    const stopped = thread.stop();
    thread.start();
    await stopped;
    const later = await post('erin', 'signed-up');
    await reached(later.position);
    expect(thread.running).toBe(true);
    expect(await readModel.findProfileJson(env, 'erin')).toBeDefined();
  });

  it('stays stopped when the last call, made while a stop was under way, was to stop', async () => {
    const starts = jest.spyOn(thread, 'start');
    const stopped = thread.stop();
    thread.start();
    const again = thread.stop();
    await Promise.all([stopped, again]);
    // Only the test's own call: the end of the stop started nothing.
    expect(starts).toHaveBeenCalledTimes(1);
    starts.mockRestore();
    const before = await readModel.getCheckpoint();
    await post('frank', 'signed-up');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(thread.running).toBe(false);
    expect(await readModel.getCheckpoint()).toEqual(before);
  });
});
