import { join } from 'node:path';
import { EVENT_TRACKED, USER_UPSERTED } from '@visitorbase/users';
import { SqliteEventStore } from '@visitorbase/event-store';
import { SqliteReadModel } from '@visitorbase/read-model';
import { evolve, toView, visitorStream } from '@visitorbase/users/domain';
import { toFact } from '@visitorbase/users';
import { tempDataDir } from '../e2e/support';
import { ServiceProcess, startService } from './service';

const KEY = 'two-processes-key-0123456789';
const auth = { authorization: `API-Key ${KEY}` };

/** Polls until `accept` holds: each process's projector gets there in its own time. */
async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('two processes sharing one embedded data directory', () => {
  const data = tempDataDir();
  const services: ServiceProcess[] = [];
  afterAll(async () => {
    for (const service of services) await service.stop('SIGKILL');
    data.remove();
  });

  it('appends every concurrent POST for one visitor from both, counts each once, and lets no SQLITE_BUSY reach a client', async () => {
    const env = { API_KEYS: `development:${KEY}`, LOG_LEVEL: 'warn' };
    services.push(await startService(data.dir, env), await startService(data.dir, env));
    const perProcess = 300;
    const post = (service: ServiceProcess, i: number) =>
      fetch(`${service.url}/v2/users`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'shared-visitor', attributes: { from: i }, events: [{ event: 'Tick', timestamp: i }] }),
      }).then(async (res) => ({ status: res.status, text: await res.text() }));
    const answers = await Promise.all(
      Array.from({ length: perProcess }, (_, i) => [post(services[0], i), post(services[1], perProcess + i)]).flat(),
    );
    const failures = answers.filter((a) => a.status !== 202);
    expect(failures).toEqual([]);

    // Each process folds what both appended into the one read model, guarded by revision.
    for (const service of services) {
      const res = await eventually(
        () => fetch(`${service.url}/v2/users/shared-visitor`, { headers: auth }).then(async (r) => ({ status: r.status, text: await r.text() })),
        (r) => r.status === 200 && JSON.parse(r.text).events[0].count === 2 * perProcess,
      );
      expect(JSON.parse(res.text).events).toEqual([{ event: 'Tick', count: 2 * perProcess, createdAt: 0, updatedAt: 2 * perProcess - 1 }]);
    }
    for (const service of services) expect(await service.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    for (const service of services) expect(service.output()).not.toMatch(/SQLITE_BUSY|database is locked/);

    // The log holds each request once, and the stored profile is the fold of that log.
    const store = new SqliteEventStore(join(data.dir, 'events.sqlite'));
    const readModel = new SqliteReadModel(join(data.dir, 'read-model.sqlite'));
    try {
      const stream = visitorStream({ environment: 'development', userId: 'shared-visitor' });
      const events = [];
      for await (const event of store.readStream(stream)) events.push(event);
      expect(events.filter((e) => e.type === USER_UPSERTED)).toHaveLength(2 * perProcess);
      expect(events.filter((e) => e.type === EVENT_TRACKED)).toHaveLength(2 * perProcess);
      expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
      let profile;
      for (const event of events) profile = evolve(profile, toFact(event)!);
      expect(await readModel.findProfileJson('development', 'shared-visitor')).toBe(JSON.stringify(toView(profile!)));
      expect(await readModel.getCheckpoint()).toEqual(await store.headPosition());
    } finally {
      await store.close();
      await readModel.close();
    }
  });
});
