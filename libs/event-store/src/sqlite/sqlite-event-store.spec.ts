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
});
