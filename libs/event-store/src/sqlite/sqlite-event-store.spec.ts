import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from './sqlite-event-store';

describe('SqliteEventStore reads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'visitorbase-sqlite-es-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('let timers run between pages of a long scan that yields nothing', async () => {
    const store = new SqliteEventStore(join(dir, 'events.sqlite'));
    try {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 500 }, (_, i) => store.append(`other-${batch}-${i}`, [{ id: `${batch}-${i}`, type: 'T', data: {} }], 'any')),
        );
      }
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      let found = 0;
      for await (const _ of store.readAll({ streamPrefix: 'nothing-matches-' })) found++;
      clearInterval(timer);
      expect(found).toBe(0);
      // Five pages of 1000 rows: a timer got a turn between them.
      expect(ticks).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('tells another instance on the same file of each commit, so its followers look at once instead of at their next poll', async () => {
    const file = join(dir, 'told.sqlite');
    const writer = new SqliteEventStore(file);
    // A poll interval longer than the test's timeout: only being told can deliver in time.
    const follower = new SqliteEventStore(file, { pollIntervalMs: 10 * 60_000 });
    let commits = 0;
    const stop = writer.onAppended(() => {
      commits += 1;
      follower.notifyAppended();
    });
    const abort = new AbortController();
    try {
      const seen: unknown[] = [];
      const following = (async () => {
        for await (const page of follower.subscribeToAll({ signal: abort.signal })) {
          seen.push(...page.map((event) => event.data));
          if (seen.length === 2) abort.abort();
        }
      })();
      await writer.append('s-1', [{ id: 'told-1', type: 'T', data: { n: 1 } }], 'any');
      await writer.append('s-2', [{ id: 'told-2', type: 'T', data: { n: 2 } }], 'any');
      await following;
      expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
      expect(commits).toBe(2);
      // Once stopped, commits are no longer reported.
      stop();
      await writer.append('s-3', [{ id: 'told-3', type: 'T', data: {} }], 'any');
      expect(commits).toBe(2);
    } finally {
      abort.abort();
      await follower.close();
      await writer.close();
    }
  });
});
